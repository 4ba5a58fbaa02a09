//! Kinds of medical care (医療的ケアの種別) and the 医療的ケア判定スコア.
//!
//! The list and its scores are data an administrator can correct; what lives here is only the
//! seed (after the national scoring sheet of the 2021 fee revision) and the banding rule.
//! Scores marked unconfirmed in the seed were not checked against the ministry's sheet.

/// One seeded care type.
pub struct CareTypeSeed {
    pub code: &'static str,
    /// The item number of the scoring sheet, with the sub-item: "7(1)".
    pub number: &'static str,
    pub name: &'static str,
    pub base_score: i64,
    /// Supervision (見守り) scores that can be added, e.g. "2/1/0".
    pub supervision_scores: &'static str,
    /// Uses a device that needs power (matters in disasters).
    pub power_dependent: bool,
    /// Score not yet confirmed against the ministry's sheet.
    pub unconfirmed: bool,
}

const fn seed(
    code: &'static str,
    number: &'static str,
    name: &'static str,
    base_score: i64,
    supervision_scores: &'static str,
    power_dependent: bool,
    unconfirmed: bool,
) -> CareTypeSeed {
    CareTypeSeed {
        code,
        number,
        name,
        base_score,
        supervision_scores,
        power_dependent,
        unconfirmed,
    }
}

pub const SEED: [CareTypeSeed; 19] = [
    seed(
        "ventilator",
        "1",
        "人工呼吸器の管理（NPPV、ネーザルハイフロー、排痰補助装置を含む）",
        10,
        "2/1/0",
        true,
        false,
    ),
    seed(
        "tracheostomy",
        "2",
        "気管切開の管理",
        8,
        "2/0",
        false,
        false,
    ),
    seed(
        "nasopharyngeal_airway",
        "3",
        "鼻咽頭エアウェイの管理",
        5,
        "1/0",
        false,
        false,
    ),
    seed("oxygen", "4", "酸素療法", 8, "1/0", true, false),
    seed(
        "suction",
        "5",
        "吸引（口鼻腔・気管内吸引）",
        8,
        "1/0",
        true,
        false,
    ),
    seed("nebulizer", "6", "ネブライザーの管理", 3, "0", true, false),
    seed(
        "tube_feeding",
        "7(1)",
        "経管栄養（経鼻胃管・胃瘻・経鼻腸管・経胃瘻腸管・腸瘻・食道瘻）",
        8,
        "2/0",
        false,
        false,
    ),
    seed(
        "feeding_pump",
        "7(2)",
        "経管栄養（持続経管注入ポンプ使用）",
        3,
        "1/0",
        true,
        false,
    ),
    seed(
        "central_venous",
        "8",
        "中心静脈カテーテルの管理",
        8,
        "2/0",
        false,
        false,
    ),
    seed(
        "subcutaneous_injection",
        "9(1)",
        "皮下注射",
        5,
        "1/0",
        false,
        false,
    ),
    seed(
        "subcutaneous_pump",
        "9(2)",
        "皮下注射（持続皮下注射ポンプ使用）",
        3,
        "1/0",
        true,
        true,
    ),
    seed(
        "blood_glucose",
        "10",
        "血糖測定（持続血糖測定器による血糖測定を含む）",
        3,
        "",
        false,
        true,
    ),
    seed(
        "dialysis",
        "11",
        "継続的な透析（血液透析・腹膜透析）",
        8,
        "",
        true,
        true,
    ),
    seed(
        "intermittent_catheterisation",
        "12(1)",
        "導尿（間欠的導尿）",
        5,
        "",
        false,
        true,
    ),
    seed(
        "continuous_catheterisation",
        "12(2)",
        "導尿（持続的導尿：留置カテーテル・膀胱瘻・腎瘻・尿路ストーマ）",
        3,
        "",
        false,
        true,
    ),
    seed(
        "ostomy",
        "13(1)",
        "排便管理（消化管ストーマ）",
        5,
        "",
        false,
        true,
    ),
    seed(
        "disimpaction",
        "13(2)",
        "排便管理（摘便・洗腸）",
        5,
        "",
        false,
        true,
    ),
    seed("enema", "13(3)", "排便管理（浣腸）", 3, "", false, true),
    seed(
        "seizure",
        "14",
        "痙攣時の処置（坐剤挿入・吸引・酸素投与・迷走神経刺激装置の作動等）",
        3,
        "",
        false,
        true,
    ),
];

/// The band a total score falls in, as printed on the 受給者証.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreBand {
    /// 32点以上
    High,
    /// 16〜31点
    Middle,
    /// 3〜15点
    Low,
    /// 3点未満: no band
    None,
}

impl ScoreBand {
    pub fn of(total: i64) -> ScoreBand {
        match total {
            t if t >= 32 => ScoreBand::High,
            t if t >= 16 => ScoreBand::Middle,
            t if t >= 3 => ScoreBand::Low,
            _ => ScoreBand::None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ScoreBand::High => "32点以上",
            ScoreBand::Middle => "16点以上32点未満",
            ScoreBand::Low => "3点以上16点未満",
            ScoreBand::None => "3点未満",
        }
    }
}

/// Parses a supervision-score list such as "2/1/0" into its values; empty means none.
pub fn parse_supervision_scores(s: &str) -> Result<Vec<i64>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(Vec::new());
    }
    s.split(['/', '／', ','])
        .map(|p| {
            crate::text::fold_width_str(p.trim())
                .parse::<i64>()
                .ok()
                .filter(|v| (0..=20).contains(v))
                .ok_or_else(|| {
                    "見守りスコアは 2/1/0 のように0〜20の数字を / で区切って入力してください"
                        .to_string()
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_codes_are_unique_and_cover_the_fourteen_items() {
        let mut codes: Vec<&str> = SEED.iter().map(|s| s.code).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), SEED.len());
        let mut items: Vec<&str> = SEED
            .iter()
            .map(|s| s.number.split('(').next().unwrap_or(""))
            .collect();
        items.dedup();
        assert_eq!(items.len(), 14);
        for s in &SEED {
            assert!(
                parse_supervision_scores(s.supervision_scores).is_ok(),
                "{}",
                s.code
            );
        }
    }

    #[test]
    fn bands_follow_the_thresholds() {
        assert_eq!(ScoreBand::of(32), ScoreBand::High);
        assert_eq!(ScoreBand::of(31), ScoreBand::Middle);
        assert_eq!(ScoreBand::of(16), ScoreBand::Middle);
        assert_eq!(ScoreBand::of(15), ScoreBand::Low);
        assert_eq!(ScoreBand::of(3), ScoreBand::Low);
        assert_eq!(ScoreBand::of(2), ScoreBand::None);
    }

    #[test]
    fn supervision_scores_parse_or_explain() {
        assert_eq!(parse_supervision_scores("2/1/0"), Ok(vec![2, 1, 0]));
        assert_eq!(parse_supervision_scores("２／０"), Ok(vec![2, 0]));
        assert_eq!(parse_supervision_scores(""), Ok(vec![]));
        assert!(parse_supervision_scores("a/b").is_err());
        assert!(parse_supervision_scores("99").is_err());
    }
}
