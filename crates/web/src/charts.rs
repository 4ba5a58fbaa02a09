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

/// One point of a line chart: a label on the horizontal axis and its value; `None` leaves a gap
/// in the line (no figure for that label).
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub label: String,
    pub value: Option<i64>,
}

impl Point {
    pub fn new(label: impl Into<String>, value: Option<i64>) -> Point {
        Point {
            label: label.into(),
            value,
        }
    }
}

const PLOT_LEFT: i64 = 72;
const PLOT_TOP: i64 = 28;
const PLOT_HEIGHT: i64 = 180;
const PLOT_RIGHT: i64 = 16;
const STEP: i64 = 76;
const AXIS_LABELS: i64 = 36;
const GRID_LINES: i64 = 4;

/// `1234567` → `1,234,567`.
fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The distance between grid lines: 1, 2 or 5 times a power of ten, so that
/// [`GRID_LINES`] of them reach `max`.
fn grid_step(max: i64) -> i64 {
    let raw = ((max + GRID_LINES - 1) / GRID_LINES).max(1);
    let mut magnitude = 1;
    while magnitude * 10 <= raw {
        magnitude *= 10;
    }
    [1, 2, 5, 10]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&step| step >= raw)
        .unwrap_or(10 * magnitude)
}

/// A line chart of a count over time (e.g. a figure per 年度). Every point carries its number
/// and a gap marks a label without a figure, so it reads without colour and in print. `unit`
/// follows each number in the description read out by screen readers.
pub fn line_chart(id: &str, title: &str, unit: &str, points: &[Point]) -> String {
    let max = points.iter().filter_map(|p| p.value).max().unwrap_or(0);
    let step = grid_step(max);
    let top = step * GRID_LINES;
    let columns = (points.len() as i64).max(1);
    let width = PLOT_LEFT + STEP * columns + PLOT_RIGHT;
    let height = PLOT_TOP + PLOT_HEIGHT + AXIS_LABELS;
    let x = |i: usize| PLOT_LEFT + STEP * i as i64 + STEP / 2;
    let y = |v: i64| PLOT_TOP + PLOT_HEIGHT - v.clamp(0, top) * PLOT_HEIGHT / top;
    let id = escape(id);
    let summary = points
        .iter()
        .map(|p| match p.value {
            Some(v) => format!("{} {}{unit}", p.label, grouped(v)),
            None => format!("{} なし", p.label),
        })
        .collect::<Vec<_>>()
        .join("、");
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart line-chart\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\"><title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        escape(title),
        escape(&summary)
    );
    if points.is_empty() {
        svg.push_str("<text x=\"0\" y=\"20\" font-size=\"14\" fill=\"#333\">該当なし</text></svg>");
        return svg;
    }
    for k in 0..=GRID_LINES {
        let v = step * k;
        let gy = y(v);
        svg.push_str(&format!(
            "<line x1=\"{PLOT_LEFT}\" y1=\"{gy}\" x2=\"{}\" y2=\"{gy}\" stroke=\"{}\" stroke-width=\"1\"/><text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\" fill=\"#1a1a1a\">{}</text>",
            width - PLOT_RIGHT,
            if k == 0 { "#595959" } else { "#d9d9d9" },
            PLOT_LEFT - 8,
            gy + 4,
            grouped(v)
        ));
    }
    // One path per run of consecutive figures: a missing one breaks the line.
    let mut d = String::new();
    let mut drawing = false;
    for (i, p) in points.iter().enumerate() {
        match p.value {
            Some(v) => {
                d.push_str(&format!(
                    "{}{} {}",
                    if drawing { "L" } else { "M" },
                    x(i),
                    y(v)
                ));
                drawing = true;
            }
            None => drawing = false,
        }
    }
    if !d.is_empty() {
        svg.push_str(&format!(
            "<path d=\"{d}\" fill=\"none\" stroke=\"#0031d8\" stroke-width=\"2.5\" stroke-linejoin=\"round\"/>"
        ));
    }
    for (i, p) in points.iter().enumerate() {
        let px = x(i);
        if let Some(v) = p.value {
            let py = y(v);
            svg.push_str(&format!(
                "<circle cx=\"{px}\" cy=\"{py}\" r=\"4\" fill=\"#0031d8\"/><text x=\"{px}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\" fill=\"#1a1a1a\">{}</text>",
                py - 10,
                grouped(v)
            ));
        }
        let label: String = p.label.chars().take(10).collect();
        svg.push_str(&format!(
            "<text x=\"{px}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\" fill=\"#1a1a1a\">{}</text>",
            PLOT_TOP + PLOT_HEIGHT + 22,
            escape(&label)
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
    #[test]
    fn line_charts_carry_their_numbers_and_break_at_gaps() {
        let svg = line_chart(
            "trend",
            "医療的ケア児の総数の推移",
            "人",
            &[
                Point::new("2010年度", Some(10)),
                Point::new("2011年度", Some(1200)),
                Point::new("2012年度", None),
                Point::new("2013年度", Some(40)),
            ],
        );
        assert!(svg.contains(">1,200<") && svg.contains(">10<") && svg.contains(">40<"));
        assert!(svg.contains("2010年度 10人、2011年度 1,200人、2012年度 なし、2013年度 40人"));
        // Two runs: 2010–2011, then 2013 on its own.
        assert!(svg.contains("d=\"M110 208L186 100M338 205\""));
        // Grid lines up to 4 × 500 = 2,000.
        assert!(svg.contains(">2,000<"));
        assert!(!svg.contains("<script") && !svg.contains("style"));
        assert!(line_chart("e", "<t>", "", &[]).contains("該当なし"));
    }

    #[test]
    fn grid_steps_are_round_numbers() {
        assert_eq!(grid_step(0), 1);
        assert_eq!(grid_step(4), 1);
        assert_eq!(grid_step(5), 2);
        assert_eq!(grid_step(33), 10);
        assert_eq!(grid_step(180), 50);
        assert_eq!(grid_step(20_000), 5_000);
    }
}
