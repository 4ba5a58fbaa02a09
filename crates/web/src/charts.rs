//! Charts drawn on the server as SVG: no script, nothing to download, printable, and readable
//! without colour (every bar carries its number).

/// One bar: a label and a count.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: i64,
}

impl Bar {
    pub fn new(label: impl Into<String>, value: i64) -> Bar {
        Bar {
            label: label.into(),
            value,
        }
    }
}

/// Escapes text for SVG/XML content and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const ROW: i64 = 28;
const LABEL_WIDTH: i64 = 220;
const BAR_AREA: i64 = 420;
const VALUE_WIDTH: i64 = 70;

/// A horizontal bar chart. `id` makes the title and description ids unique on the page.
pub fn bar_chart(id: &str, title: &str, bars: &[Bar]) -> String {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let width = LABEL_WIDTH + BAR_AREA + VALUE_WIDTH;
    let height = ROW * (bars.len() as i64).max(1) + 8;
    let id = escape(id);
    let summary = bars
        .iter()
        .map(|b| format!("{} {}件", b.label, b.value))
        .collect::<Vec<_>>()
        .join("、");
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\"><title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        escape(title),
        escape(&summary)
    );
    if bars.is_empty() {
        svg.push_str("<text x=\"0\" y=\"20\" font-size=\"14\" fill=\"#333\">該当なし</text>");
    }
    for (i, b) in bars.iter().enumerate() {
        let y = i as i64 * ROW + 4;
        let w = if b.value > 0 {
            (b.value * BAR_AREA / max).max(2)
        } else {
            0
        };
        let label: String = b.label.chars().take(16).collect();
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" font-size=\"13\" text-anchor=\"end\" fill=\"#1a1a1a\">{}</text>",
            LABEL_WIDTH - 8,
            y + 17,
            escape(&label)
        ));
        svg.push_str(&format!(
            "<rect x=\"{LABEL_WIDTH}\" y=\"{}\" width=\"{w}\" height=\"{}\" fill=\"#0031d8\"/>",
            y + 4,
            ROW - 10
        ));
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" font-size=\"13\" fill=\"#1a1a1a\">{}</text>",
            LABEL_WIDTH + w + 6,
            y + 17,
            b.value
        ));
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_carry_their_numbers() {
        let svg = bar_chart(
            "topics",
            "相談内容",
            &[
                Bar::new("医療・医療的ケア", 40),
                Bar::new("福祉サービス", 10),
            ],
        );
        assert!(
            svg.contains("width=\"420\""),
            "the largest bar fills the area"
        );
        assert!(svg.contains("width=\"105\""), "a quarter of it");
        assert!(svg.contains(">40<") && svg.contains(">10<"));
        assert!(
            svg.contains("医療・医療的ケア 40件"),
            "a text summary for screen readers"
        );
        assert!(!svg.contains("<script"));
    }

    #[test]
    fn labels_are_escaped_and_empty_charts_say_so() {
        let svg = bar_chart("x", "<t>", &[Bar::new("a&b", 0)]);
        assert!(svg.contains("a&amp;b"));
        assert!(svg.contains("&lt;t&gt;"));
        assert!(bar_chart("y", "t", &[]).contains("該当なし"));
    }
}
