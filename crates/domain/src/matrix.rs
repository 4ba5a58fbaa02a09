//! The role matrix (役割分担, 別表1): the center's functions × the participating bodies, each
//! cell ◎ (leads), ○ (supports) or empty. Who does what is configuration: these are only the
//! marks and the values seeded from the FY2022 Iwate report.

use serde::{Deserialize, Serialize};

/// A cell's mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    /// ◎ 主担当
    Lead,
    /// ○ 連携・サポート
    Support,
    /// 担当なし
    None,
}

impl Mark {
    pub fn code(self) -> &'static str {
        match self {
            Mark::Lead => "lead",
            Mark::Support => "support",
            Mark::None => "",
        }
    }

    pub fn from_code(code: &str) -> Option<Mark> {
        match code.trim() {
            "lead" | "◎" => Some(Mark::Lead),
            "support" | "○" | "〇" => Some(Mark::Support),
            "" | "none" => Some(Mark::None),
            _ => None,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Mark::Lead => "◎",
            Mark::Support => "○",
            Mark::None => "",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Mark::Lead => "主担当",
            Mark::Support => "連携・サポート",
            Mark::None => "担当なし",
        }
    }
}

/// A function of the center, as seeded from 別表1.
pub struct SeedFunction {
    pub code: &'static str,
    pub title: &'static str,
    pub detail: &'static str,
}

/// The six functions of 別表1. Later capabilities show the lead of their function by `code`.
pub const SEED_FUNCTIONS: [SeedFunction; 6] = [
    SeedFunction {
        code: "consultation",
        title: "医療的ケア児等からの相談への助言等",
        detail: "（1）活用可能な社会資源等の情報提供　（2）個別支援に係る地域との連絡・調整等",
    },
    SeedFunction {
        code: "information",
        title: "関係機関等への情報提供（クラウドシステムを活用した基本情報の収集を含む）",
        detail: "①医療的ケア児のニーズ　②支援に係る好事例　③最新の施策等の情報収集、提供",
    },
    SeedFunction {
        code: "training",
        title: "従事する者への研修",
        detail: "（1）地域コーディネーター向け研修　（2）家族交流会",
    },
    SeedFunction {
        code: "regional_liaison",
        title: "地域の医療的ケア児支援の状況等に係る連絡調整（状況把握と横展開）",
        detail: "例：医療的ケア児の人数、地域の施策の内容、好事例 等",
    },
    SeedFunction {
        code: "secretariat",
        title: "事務局機能",
        detail: "",
    },
    SeedFunction {
        code: "management",
        title: "支援センター運営統括",
        detail: "",
    },
];

/// The seeded cells: (function code, participant index, mark, note). Participants are, in
/// order: the center operator, the training body, the NICU hospitals, the prefecture.
pub const SEED_CELLS: &[(&str, usize, Mark, &str)] = &[
    ("consultation", 0, Mark::Lead, "県コーディネーター"),
    ("consultation", 2, Mark::Support, "主治医"),
    ("consultation", 3, Mark::Support, "市町村相談窓口等の把握"),
    (
        "information",
        0,
        Mark::Lead,
        "県コーディネーターが市町村等から収集・提供",
    ),
    (
        "information",
        2,
        Mark::Lead,
        "クラウドシステム運用（R4県改修後は県に運用引継ぎ）",
    ),
    (
        "information",
        3,
        Mark::Lead,
        "国の施策等を収集・提供／クラウドシステム改修（初年度）",
    ),
    (
        "training",
        0,
        Mark::Support,
        "研修講師／家族交流会の企画（◎）",
    ),
    (
        "training",
        1,
        Mark::Lead,
        "地域コーディネーター向け研修の企画・運営",
    ),
    ("training", 2, Mark::Support, "講師"),
    ("training", 3, Mark::Support, "講師"),
    (
        "regional_liaison",
        0,
        Mark::Lead,
        "県コーディネーターが市町村等から収集・提供",
    ),
    (
        "regional_liaison",
        3,
        Mark::Support,
        "人数、地域のニーズや課題の把握",
    ),
    ("secretariat", 0, Mark::Lead, ""),
    ("management", 3, Mark::Lead, ""),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_parse_from_codes_and_symbols() {
        for m in [Mark::Lead, Mark::Support, Mark::None] {
            assert_eq!(Mark::from_code(m.code()), Some(m));
            assert_eq!(Mark::from_code(m.symbol()), Some(m));
        }
        assert_eq!(Mark::from_code("〇"), Some(Mark::Support));
        assert_eq!(Mark::from_code("×"), None);
    }

    #[test]
    fn every_seeded_function_has_a_lead() {
        for f in &SEED_FUNCTIONS {
            assert!(
                SEED_CELLS
                    .iter()
                    .any(|(code, _, mark, _)| *code == f.code && *mark == Mark::Lead),
                "{} has no lead",
                f.code
            );
        }
        assert!(SEED_CELLS.iter().all(|(_, p, _, _)| *p < 4));
    }
}
