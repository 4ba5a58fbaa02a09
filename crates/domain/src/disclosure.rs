//! Small-cell suppression (秘匿処理) for public statistics.
//!
//! A count from 1 to the threshold (a setting, 9 by default) could point at one family in a
//! small municipality, so it is never printed (一次秘匿): it shows as 「1〜9」. Zeros stay
//! visible. Since the table also prints totals, a hidden count could still be worked out by
//! subtraction, so further counts are hidden (二次秘匿, 「秘匿」) until none can be.
//!
//! # What a reader can work out
//!
//! A reader knows every printed number; that 「1〜9」 lies between 1 and the threshold; that
//! 「秘匿」 lies above the threshold (a smaller count would show as 「1〜9」, a zero as 0); and
//! that each published total is the sum of its row or column, and the grand total the sum of
//! the row totals. A hidden count is safe when two tables of whole numbers agree with all of
//! that and differ in it.
//!
//! The cells and totals form a circulation in a small network: the grand total flows from one
//! hub to the row totals, each row total into its cells, each cell into its column total and
//! the column totals back to the hub. A hidden count can change exactly when a cycle of
//! hidden counts passes through it along which each may move by one within its known range
//! (a residual cycle). Moving along it gives the second table, and without such a cycle every
//! consistent table has the same value there. A network's constraint matrix is totally
//! unimodular, so this agrees with the LP relaxation: the check is exact, not a heuristic.
//! The usual rule "no row or column with exactly one hidden count" is not enough: a hidden
//! count bridging two groups of hidden counts, or one whose cycles are all blocked by the
//! known ranges, can be worked out.
//!
//! # Choosing what else to hide
//!
//! Each hidden count is checked in turn. If it can be worked out, the cheapest cycle through it
//! is hidden as well, the cost of a cycle being the sum of the counts it newly hides. Hiding
//! only widens what a reader must consider, so a count once safe stays safe and one pass
//! suffices. Deterministic; about `hidden × cells × log` steps.
//!
//! The printed ranges can give a count away beyond repair: a 1 beside a 9 in a row totalling
//! 10, in a column of nine 1s. The row holds two 「1〜9」 making at least 10 (its total is
//! 「秘匿」), the column nine counts of at least 1 making at most 9 (its total is 「1〜9」), so
//! the cell is 1 however much else is hidden. Such a table is published with every suppressed
//! count as 「秘匿」 and no ranges; a reader then knows only that a hidden count is at least 1,
//! and a cycle of positive counts runs through each, so enough hiding always succeeds.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Which totals (合計) a table publishes. Row totals need additive columns (age bands), column
/// totals additive rows (municipalities); a table of municipalities × kinds of care, where a
/// child may need several, has column totals only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Margins {
    /// Each row's total over the columns (行合計).
    pub row_totals: bool,
    /// Each column's total over the rows (列合計).
    pub column_totals: bool,
}

impl Margins {
    pub const BOTH: Margins = Margins {
        row_totals: true,
        column_totals: true,
    };
    /// Column totals only: the columns are not additive (care types).
    pub const COLUMNS_ONLY: Margins = Margins {
        row_totals: false,
        column_totals: true,
    };
    pub const ROWS_ONLY: Margins = Margins {
        row_totals: true,
        column_totals: false,
    };
    pub const NO_TOTALS: Margins = Margins {
        row_totals: false,
        column_totals: false,
    };
}

/// What the public sees in one cell or total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// The count itself.
    Value(u64),
    /// A count from 1 to the threshold (一次秘匿), shown as 「1〜9」.
    Small,
    /// A count withheld (秘匿), shown as 「秘匿」: hidden so that no small count can be worked
    /// out (二次秘匿), or any suppressed count in a table that prints no ranges.
    Hidden,
}

/// A table ready for the public statistics page (公表用集計表).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedTable {
    /// One row per input row, as wide as the widest input row.
    pub cells: Vec<Vec<Published>>,
    /// One per row; empty when the table has no row totals.
    pub row_totals: Vec<Published>,
    /// One per column; empty when the table has no column totals.
    pub column_totals: Vec<Published>,
    /// The total of everything (総数), only when both row and column totals are published: over
    /// non-additive categories the sum would count a child more than once.
    pub grand_total: Option<Published>,
}

/// Suppresses the small counts of `cells` (rows × columns; a short row counts as zeros in the
/// missing columns) and whatever else is needed so that no hidden count can be worked out from
/// the published table, including the totals chosen by `margins`. Counts from 1 to `threshold`
/// are small; a threshold of 0 publishes everything. Totals are summed here (saturating at
/// `u64::MAX`).
pub fn suppress(cells: &[Vec<u64>], threshold: u64, margins: Margins) -> PublishedTable {
    let network = Network::new(cells, margins);
    let shown = [Ranges::Printed, Ranges::Withheld]
        .into_iter()
        .find_map(|ranges| network.protect(Rules { threshold, ranges }))
        // Only reachable when a total saturated and the sums no longer add up.
        .unwrap_or_else(|| network.hide_all());
    network.table(shown)
}

/// The text of a published cell: 「1,234」, 「1〜9」 or 「秘匿」. Digits are grouped by
/// thousands from 1,000 on.
pub fn label(published: &Published, threshold: u64) -> String {
    match published {
        Published::Value(count) => grouped(*count),
        Published::Small => format!("1〜{}", grouped(threshold)),
        Published::Hidden => "秘匿".to_owned(),
    }
}

fn grouped(count: u64) -> String {
    let digits = count.to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3);
    for (position, digit) in digits.chars().enumerate() {
        if position > 0 && (digits.len() - position).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// Whether small counts are printed as a range (「1〜9」) or, like the others, as 「秘匿」.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ranges {
    Printed,
    Withheld,
}

#[derive(Debug, Clone, Copy)]
struct Rules {
    threshold: u64,
    ranges: Ranges,
}

impl Rules {
    fn is_small(self, count: u64) -> bool {
        (1..=self.threshold).contains(&count)
    }

    /// The least and (if any) greatest value a reader can assume for a count hidden as `state`.
    fn bounds(self, state: State) -> (u64, Option<u64>) {
        match (self.ranges, state) {
            (Ranges::Printed, State::Primary) => (1, Some(self.threshold)),
            (Ranges::Printed, _) => (self.threshold.saturating_add(1), None),
            (Ranges::Withheld, _) => (1, None),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Shown,
    /// Small, hidden for itself (一次秘匿).
    Primary,
    /// Hidden to protect others (二次秘匿).
    Complement,
}

/// Moving a count up (along its arc) or down (against it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Raise,
    Lower,
}

#[derive(Debug, Clone, Copy)]
struct Arc {
    from: usize,
    to: usize,
    value: u64,
}

/// The table as a circulation: one arc per cell, then per row total, column total and the
/// grand total, in that order. Without row totals the rows merge into the hub, without column
/// totals the columns do, which leaves exactly the equations that are published.
struct Network {
    rows: usize,
    columns: usize,
    margins: Margins,
    arcs: Vec<Arc>,
    /// For each node, the arcs that may be walked from it.
    adjacency: Vec<Vec<(usize, Step)>>,
}

impl Network {
    fn new(cells: &[Vec<u64>], margins: Margins) -> Network {
        let rows = cells.len();
        let columns = cells.iter().map(Vec::len).max().unwrap_or(0);
        let value = |row: usize, column: usize| cells[row].get(column).copied().unwrap_or(0);
        let both = margins.row_totals && margins.column_totals;
        // The grand total needs its own arc between two hubs; otherwise one hub serves.
        let hub_out = 0;
        let hub_in = usize::from(both);
        let first_row = hub_in + 1;
        let first_column = first_row + if margins.row_totals { rows } else { 0 };
        let nodes = first_column + if margins.column_totals { columns } else { 0 };
        let row_node = |row: usize| {
            if margins.row_totals {
                first_row + row
            } else {
                hub_out
            }
        };
        let column_node = |column: usize| {
            if margins.column_totals {
                first_column + column
            } else {
                hub_in
            }
        };

        let mut arcs = Vec::with_capacity(rows * columns + rows + columns + 1);
        for row in 0..rows {
            for column in 0..columns {
                arcs.push(Arc {
                    from: row_node(row),
                    to: column_node(column),
                    value: value(row, column),
                });
            }
        }
        if margins.row_totals {
            for row in 0..rows {
                arcs.push(Arc {
                    from: hub_out,
                    to: row_node(row),
                    value: (0..columns)
                        .fold(0, |sum: u64, column| sum.saturating_add(value(row, column))),
                });
            }
        }
        if margins.column_totals {
            for column in 0..columns {
                arcs.push(Arc {
                    from: column_node(column),
                    to: hub_in,
                    value: (0..rows)
                        .fold(0, |sum: u64, row| sum.saturating_add(value(row, column))),
                });
            }
        }
        if both {
            let total =
                (0..rows * columns).fold(0, |sum: u64, arc| sum.saturating_add(arcs[arc].value));
            arcs.push(Arc {
                from: hub_in,
                to: hub_out,
                value: total,
            });
        }

        let mut adjacency = vec![Vec::new(); nodes];
        for (index, arc) in arcs.iter().enumerate() {
            adjacency[arc.from].push((index, Step::Raise));
            adjacency[arc.to].push((index, Step::Lower));
        }
        Network {
            rows,
            columns,
            margins,
            arcs,
            adjacency,
        }
    }

    /// Hides the small counts and enough others; `None` when the rules' ranges give some count
    /// away however much is hidden.
    fn protect(&self, rules: Rules) -> Option<Vec<Published>> {
        let mut states: Vec<State> = self
            .arcs
            .iter()
            .map(|arc| {
                if rules.is_small(arc.value) {
                    State::Primary
                } else {
                    State::Shown
                }
            })
            .collect();
        for arc in 0..self.arcs.len() {
            if states[arc] == State::Shown {
                continue;
            }
            for other in self.cheapest_cycle(arc, &states, rules)? {
                if states[other] == State::Shown {
                    states[other] = State::Complement;
                }
            }
        }
        Some(
            states
                .iter()
                .zip(&self.arcs)
                .map(|(state, arc)| match state {
                    State::Shown => Published::Value(arc.value),
                    State::Primary if rules.ranges == Ranges::Printed => Published::Small,
                    State::Primary | State::Complement => Published::Hidden,
                })
                .collect(),
        )
    }

    fn hide_all(&self) -> Vec<Published> {
        self.arcs
            .iter()
            .map(|arc| match arc.value {
                0 => Published::Value(0),
                _ => Published::Hidden,
            })
            .collect()
    }

    /// The arcs of the cheapest cycle through the hidden `arc` along which every count may move
    /// by one once the shown ones on it are hidden too; `None` if there is none even with
    /// everything hidden.
    fn cheapest_cycle(&self, arc: usize, states: &[State], rules: Rules) -> Option<Vec<usize>> {
        let Arc { from, to, .. } = self.arcs[arc];
        let raise = self
            .cost(arc, Step::Raise, states, rules)
            .and_then(|_| self.cheapest_path(to, from, arc, states, rules));
        if matches!(raise, Some((0, _))) {
            return raise.map(|(_, path)| path);
        }
        let lower = self
            .cost(arc, Step::Lower, states, rules)
            .and_then(|_| self.cheapest_path(from, to, arc, states, rules));
        [raise, lower]
            .into_iter()
            .flatten()
            .min_by_key(|(cost, _)| *cost)
            .map(|(_, path)| path)
    }

    /// What it costs to move `arc` by one in the direction of `step`: nothing if it is hidden
    /// and its range allows the move, its count if it is shown and would have to be hidden.
    fn cost(&self, arc: usize, step: Step, states: &[State], rules: Rules) -> Option<u64> {
        let value = self.arcs[arc].value;
        let (state, cost) = match states[arc] {
            State::Shown if value == 0 => return None,
            State::Shown => (State::Complement, value),
            hidden => (hidden, 0),
        };
        let (least, greatest) = rules.bounds(state);
        let movable = match step {
            Step::Raise => greatest.is_none_or(|greatest| value < greatest),
            Step::Lower => value > least,
        };
        movable.then_some(cost)
    }

    /// Dijkstra from `source` to `target` over moves that keep every count in its range,
    /// never through `excluded`; the path's cost and arcs.
    fn cheapest_path(
        &self,
        source: usize,
        target: usize,
        excluded: usize,
        states: &[State],
        rules: Rules,
    ) -> Option<(u64, Vec<usize>)> {
        let mut best = vec![u64::MAX; self.adjacency.len()];
        let mut via: Vec<Option<(usize, usize)>> = vec![None; self.adjacency.len()];
        best[source] = 0;
        let mut queue = BinaryHeap::from([Reverse((0, source))]);
        while let Some(Reverse((cost, node))) = queue.pop() {
            if node == target {
                let mut path = Vec::new();
                let mut at = target;
                while at != source {
                    let (arc, previous) = via[at]?;
                    path.push(arc);
                    at = previous;
                }
                return Some((cost, path));
            }
            if cost > best[node] {
                continue;
            }
            for &(arc, step) in &self.adjacency[node] {
                if arc == excluded {
                    continue;
                }
                let Some(price) = self.cost(arc, step, states, rules) else {
                    continue;
                };
                let next = match step {
                    Step::Raise => self.arcs[arc].to,
                    Step::Lower => self.arcs[arc].from,
                };
                let reached = cost.saturating_add(price);
                if reached < best[next] {
                    best[next] = reached;
                    via[next] = Some((arc, node));
                    queue.push(Reverse((reached, next)));
                }
            }
        }
        None
    }

    fn table(&self, shown: Vec<Published>) -> PublishedTable {
        let mut shown = shown.into_iter();
        let cells = (0..self.rows)
            .map(|_| shown.by_ref().take(self.columns).collect())
            .collect();
        let row_totals = if self.margins.row_totals {
            shown.by_ref().take(self.rows).collect()
        } else {
            Vec::new()
        };
        let column_totals = if self.margins.column_totals {
            shown.by_ref().take(self.columns).collect()
        } else {
            Vec::new()
        };
        PublishedTable {
            cells,
            row_totals,
            column_totals,
            grand_total: shown.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Published::{Hidden, Small, Value};

    const ALL_MARGINS: [Margins; 4] = [
        Margins::BOTH,
        Margins::COLUMNS_ONLY,
        Margins::ROWS_ONLY,
        Margins::NO_TOTALS,
    ];

    /// What a reader can infer from a published table, built from the table alone (not from
    /// the network above): for each entry (cells row by row, row totals, column totals, grand
    /// total) how far from the true count it may lie, and the sums the table states.
    struct Reader {
        hidden: Vec<bool>,
        deviations: Vec<(i64, i64)>,
        equations: Vec<Vec<(usize, i64)>>,
        equations_of: Vec<Vec<usize>>,
    }

    impl Reader {
        /// Deviations are limited to `reach` either way, and by any published total the entry
        /// is part of (counts are never negative).
        fn new(cells: &[Vec<u64>], threshold: u64, table: &PublishedTable, reach: u64) -> Reader {
            let rows = table.cells.len();
            let columns = table.cells.first().map_or(0, Vec::len);
            let count = |row: usize, column: usize| cells[row].get(column).copied().unwrap_or(0);
            let mut entries: Vec<(u64, Published)> = Vec::new();
            for (row, published) in table.cells.iter().enumerate() {
                assert_eq!(published.len(), columns);
                for (column, cell) in published.iter().enumerate() {
                    entries.push((count(row, column), *cell));
                }
            }
            let first_row_total = entries.len();
            for (row, total) in table.row_totals.iter().enumerate() {
                entries.push(((0..columns).map(|column| count(row, column)).sum(), *total));
            }
            let first_column_total = entries.len();
            for (column, total) in table.column_totals.iter().enumerate() {
                entries.push(((0..rows).map(|row| count(row, column)).sum(), *total));
            }
            let grand = entries.len();
            if let Some(total) = table.grand_total {
                entries.push((cells.iter().flatten().sum(), total));
            }

            let mut equations = Vec::new();
            if !table.row_totals.is_empty() {
                for row in 0..rows {
                    let mut equation: Vec<(usize, i64)> = (0..columns)
                        .map(|column| (row * columns + column, 1))
                        .collect();
                    equation.push((first_row_total + row, -1));
                    equations.push(equation);
                }
            }
            if !table.column_totals.is_empty() {
                for column in 0..columns {
                    let mut equation: Vec<(usize, i64)> =
                        (0..rows).map(|row| (row * columns + column, 1)).collect();
                    equation.push((first_column_total + column, -1));
                    equations.push(equation);
                }
            }
            if table.grand_total.is_some() {
                for (first, length) in [(first_row_total, rows), (first_column_total, columns)] {
                    let mut equation: Vec<(usize, i64)> =
                        (first..first + length).map(|entry| (entry, 1)).collect();
                    equation.push((grand, -1));
                    equations.push(equation);
                }
            }

            let ranged = entries.iter().any(|(_, p)| *p == Published::Small);
            let mut caps = vec![u64::MAX; entries.len()];
            for equation in &equations {
                for &(total, sign) in equation {
                    if let (-1, Published::Value(value)) = (sign, entries[total].1) {
                        for &(part, _) in equation {
                            caps[part] = caps[part].min(value);
                        }
                    }
                }
            }
            let deviations = entries
                .iter()
                .zip(&caps)
                .map(|(&(truth, published), &cap)| {
                    let (least, greatest) = match published {
                        Published::Value(value) => {
                            assert_eq!(value, truth, "a printed count must be true");
                            (value, value)
                        }
                        Published::Small => (1, threshold),
                        Published::Hidden if ranged => (threshold + 1, u64::MAX),
                        Published::Hidden => (1, u64::MAX),
                    };
                    assert!(
                        least <= truth && truth <= greatest,
                        "{published:?} for {truth}"
                    );
                    let low = least.max(truth.saturating_sub(reach));
                    let high = greatest.min(cap).min(truth.saturating_add(reach));
                    (low as i64 - truth as i64, high as i64 - truth as i64)
                })
                .collect();
            let mut equations_of = vec![Vec::new(); entries.len()];
            for (index, equation) in equations.iter().enumerate() {
                for &(entry, _) in equation {
                    equations_of[entry].push(index);
                }
            }
            Reader {
                hidden: entries
                    .iter()
                    .map(|(_, published)| !matches!(published, Published::Value(_)))
                    .collect(),
                deviations,
                equations,
                equations_of,
            }
        }

        /// The hidden entries that have the same value in every table consistent with the
        /// published one (within the reach).
        fn back_solvable(&self) -> Vec<usize> {
            (0..self.deviations.len())
                .filter(|&entry| self.hidden[entry] && !self.moves(entry))
                .collect()
        }

        /// Whether some consistent table gives `entry` another value: a search over the
        /// deviations of all entries, starting from `entry` and following the sums.
        fn moves(&self, entry: usize) -> bool {
            let (low, high) = self.deviations[entry];
            let mut order = vec![entry];
            let mut seen = vec![false; self.deviations.len()];
            seen[entry] = true;
            let mut next = 0;
            while next < order.len() {
                for &equation in &self.equations_of[order[next]] {
                    for &(other, _) in &self.equations[equation] {
                        if !seen[other] {
                            seen[other] = true;
                            order.push(other);
                        }
                    }
                }
                next += 1;
            }
            [(low, -1), (1, high)]
                .into_iter()
                .filter(|(low, high)| low <= high)
                .any(|range| {
                    let mut domains = self.deviations.clone();
                    domains[entry] = range;
                    let mut assigned = vec![None; domains.len()];
                    self.search(&order, 0, &domains, &mut assigned)
                })
        }

        fn search(
            &self,
            order: &[usize],
            depth: usize,
            domains: &[(i64, i64)],
            assigned: &mut Vec<Option<i64>>,
        ) -> bool {
            let Some(&entry) = order.get(depth) else {
                return true;
            };
            let (low, high) = domains[entry];
            let forced = self.equations_of[entry].iter().find_map(|&equation| {
                let mut sum = 0;
                let mut own = 0;
                for &(other, sign) in &self.equations[equation] {
                    if other == entry {
                        own = sign;
                    } else {
                        sum += sign * assigned[other]?;
                    }
                }
                Some(-sum * own)
            });
            let candidates: Vec<i64> = match forced {
                Some(value) => vec![value],
                None => std::iter::once(0)
                    .chain((1..=low.abs().max(high.abs())).flat_map(|step| [step, -step]))
                    .collect(),
            };
            for value in candidates {
                if value < low || value > high {
                    continue;
                }
                assigned[entry] = Some(value);
                if self.consistent(entry, domains, assigned)
                    && self.search(order, depth + 1, domains, assigned)
                {
                    return true;
                }
            }
            assigned[entry] = None;
            false
        }

        fn consistent(
            &self,
            entry: usize,
            domains: &[(i64, i64)],
            assigned: &[Option<i64>],
        ) -> bool {
            self.equations_of[entry].iter().all(|&equation| {
                let (mut least, mut greatest) = (0, 0);
                for &(other, sign) in &self.equations[equation] {
                    let (low, high) = match assigned[other] {
                        Some(value) => (value, value),
                        None => domains[other],
                    };
                    if sign > 0 {
                        least += low;
                        greatest += high;
                    } else {
                        least -= high;
                        greatest -= low;
                    }
                }
                least <= 0 && 0 <= greatest
            })
        }
    }

    /// Suppresses, checks the shape and proves with [`Reader`] that no hidden entry can be
    /// worked out: each has a second consistent value within one of the true count.
    fn published_safely(cells: &[Vec<u64>], threshold: u64, margins: Margins) -> PublishedTable {
        let table = suppress(cells, threshold, margins);
        assert_eq!(table, suppress(cells, threshold, margins));
        let columns = cells.iter().map(Vec::len).max().unwrap_or(0);
        assert_eq!(table.cells.len(), cells.len());
        assert!(table.cells.iter().all(|row| row.len() == columns));
        assert_eq!(
            table.row_totals.len(),
            if margins.row_totals { cells.len() } else { 0 }
        );
        assert_eq!(
            table.column_totals.len(),
            if margins.column_totals { columns } else { 0 }
        );
        assert_eq!(
            table.grand_total.is_some(),
            margins.row_totals && margins.column_totals
        );
        let reader = Reader::new(cells, threshold, &table, 1);
        assert_eq!(
            reader.back_solvable(),
            Vec::<usize>::new(),
            "{cells:?} threshold {threshold} {margins:?}: {table:?}"
        );
        table
    }

    fn hidden_count(row: &[Published]) -> usize {
        row.iter()
            .filter(|p| !matches!(p, Published::Value(_)))
            .count()
    }

    #[test]
    fn one_small_cell_gets_a_complement_in_its_row_and_column() {
        let cells = vec![vec![3, 15, 20], vec![12, 25, 30], vec![18, 22, 40]];
        let table = published_safely(&cells, 9, Margins::BOTH);
        assert_eq!(
            table.cells,
            vec![
                vec![Small, Hidden, Value(20)],
                vec![Hidden, Hidden, Value(30)],
                vec![Value(18), Value(22), Value(40)],
            ]
        );
        assert_eq!(table.row_totals, vec![Value(38), Value(67), Value(80)]);
        assert_eq!(table.column_totals, vec![Value(33), Value(62), Value(90)]);
        assert_eq!(table.grand_total, Some(Value(185)));
    }

    #[test]
    fn zeros_stay_visible_and_never_serve_as_complements() {
        let cells = vec![vec![0, 5, 0, 30], vec![0, 0, 40, 0], vec![0, 20, 11, 0]];
        let table = published_safely(&cells, 9, Margins::BOTH);
        for (row, counts) in cells.iter().enumerate() {
            for (column, count) in counts.iter().enumerate() {
                if *count == 0 {
                    assert_eq!(table.cells[row][column], Value(0));
                }
            }
        }
        assert_eq!(table.column_totals[0], Value(0));
        assert_eq!(table.cells[0][1], Small);
        // Row 0 can only be balanced by its other nonzero count; column 1 here by its total,
        // cheaper than a detour through rows 2 and 1.
        assert_eq!(table.cells[0][3], Hidden);
        assert_eq!(table.column_totals[1], Hidden);
        assert_eq!(table.column_totals[3], Hidden);
        assert_eq!(table.row_totals, vec![Value(35), Value(40), Value(31)]);
    }

    #[test]
    fn small_totals_are_suppressed_too() {
        let cells = vec![vec![2, 0, 3], vec![0, 40, 25], vec![0, 30, 12]];
        let table = published_safely(&cells, 9, Margins::BOTH);
        assert_eq!(table.row_totals[0], Small);
        assert_eq!(table.column_totals[0], Small);
        assert_eq!(table.cells[0][0], Small);
        assert_eq!(table.cells[0][2], Small);
        assert_eq!(hidden_count(&table.column_totals), 2);
    }

    #[test]
    fn care_types_are_not_additive_so_only_columns_have_totals() {
        // Municipalities × kinds of care: a child needing suction and tube feeding counts in both.
        let cells = vec![
            vec![3, 12, 0],
            vec![15, 1, 20],
            vec![25, 30, 11],
            vec![14, 0, 16],
        ];
        let table = published_safely(&cells, 9, Margins::COLUMNS_ONLY);
        assert!(table.row_totals.is_empty());
        assert_eq!(table.grand_total, None);
        assert_eq!(table.column_totals, vec![Value(57), Value(43), Value(47)]);
        // Without row totals the complement stays in the column: its smallest other count.
        assert_eq!(
            table.cells,
            vec![
                vec![Small, Hidden, Value(0)],
                vec![Value(15), Small, Value(20)],
                vec![Value(25), Value(30), Value(11)],
                vec![Hidden, Value(0), Value(16)],
            ]
        );
    }

    #[test]
    fn the_usual_rule_of_two_hidden_per_line_is_not_enough() {
        // Every row and column has two hidden cells, but 「1〜9」 caps the corner at 9 and
        // 「秘匿」 puts the opposite corner at 10 or more, which pins the corner at 9.
        let cells = vec![vec![9, 20], vec![20, 10]];
        let usual = PublishedTable {
            cells: vec![vec![Small, Hidden], vec![Hidden, Hidden]],
            row_totals: vec![Value(29), Value(30)],
            column_totals: vec![Value(29), Value(30)],
            grand_total: Some(Value(59)),
        };
        assert_eq!(
            Reader::new(&cells, 9, &usual, 1000).back_solvable(),
            vec![0, 1, 2, 3]
        );
        let table = published_safely(&cells, 9, Margins::BOTH);
        assert!(hidden_count(&table.row_totals) + hidden_count(&table.column_totals) > 0);

        // Two hidden rectangles joined by one hidden cell: the cell is their difference.
        let cells = vec![
            vec![5, 20, 11, 12],
            vec![30, 40, 50, 13],
            vec![14, 15, 6, 25],
            vec![16, 17, 35, 45],
        ];
        let mut usual = PublishedTable {
            cells: cells
                .iter()
                .map(|row| row.iter().map(|count| Value(*count)).collect())
                .collect(),
            row_totals: vec![Value(48), Value(133), Value(60), Value(113)],
            column_totals: vec![Value(65), Value(92), Value(102), Value(95)],
            grand_total: Some(Value(354)),
        };
        for (row, column) in [(0, 1), (1, 0), (1, 1), (1, 2), (2, 3), (3, 2), (3, 3)] {
            usual.cells[row][column] = Hidden;
        }
        usual.cells[0][0] = Small;
        usual.cells[2][2] = Small;
        let solvable = Reader::new(&cells, 9, &usual, 1000).back_solvable();
        assert!(solvable.contains(&6), "{solvable:?}");
        published_safely(&cells, 9, Margins::BOTH);
    }

    #[test]
    fn ranges_that_give_a_count_away_are_withheld() {
        // A municipality of 10 children, one in the youngest band, which has 9 children in
        // all: as 「1〜9」 the one could be worked out however much else were hidden.
        let mut cells = vec![vec![1, 9]];
        cells.extend((0..8).map(|_| vec![1, 0]));
        let table = published_safely(&cells, 9, Margins::BOTH);
        assert_eq!(table.cells[0], vec![Hidden, Hidden]);
        assert!(!table.cells.iter().flatten().any(|p| *p == Small));
        assert!(!table.row_totals.contains(&Small));

        let table = published_safely(&[vec![1, 2], vec![1, 0]], 2, Margins::BOTH);
        assert_eq!(table.cells[1][1], Value(0));
        assert_eq!(hidden_count(&table.cells[0]), 2);
    }

    #[test]
    fn threshold_zero_publishes_everything_and_one_never_prints_a_single_value_range() {
        let cells = vec![vec![1, 5], vec![3, 0]];
        let table = published_safely(&cells, 0, Margins::BOTH);
        assert!(table.cells.iter().flatten().all(|p| matches!(p, Value(_))));
        let table = published_safely(&cells, 1, Margins::BOTH);
        assert_eq!(table.cells[0][0], Hidden);
        assert!(!table.cells.iter().flatten().any(|p| *p == Small));
    }

    #[test]
    fn short_rows_count_as_zeros() {
        let cells = vec![vec![3], vec![12, 15, 20], vec![11, 0]];
        let table = published_safely(&cells, 9, Margins::BOTH);
        assert_eq!(table.cells[0][1], Value(0));
        assert_eq!(table.cells[2][2], Value(0));
        assert_eq!(table.row_totals[0], Small);
        let empty = published_safely(&[], 9, Margins::BOTH);
        assert_eq!(empty.grand_total, Some(Value(0)));
    }

    #[test]
    fn labels() {
        assert_eq!(label(&Value(0), 9), "0");
        assert_eq!(label(&Value(999), 9), "999");
        assert_eq!(label(&Value(1234), 9), "1,234");
        assert_eq!(label(&Value(12345), 9), "12,345");
        assert_eq!(label(&Value(1_234_567), 9), "1,234,567");
        assert_eq!(label(&Small, 9), "1〜9");
        assert_eq!(label(&Small, 1000), "1〜1,000");
        assert_eq!(label(&Hidden, 9), "秘匿");
    }

    /// SplitMix64, enough to draw test tables without a dependency.
    struct Random(u64);

    impl Random {
        fn below(&mut self, bound: u64) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) % bound
        }

        /// Counts crowding around the threshold, where ranges block the most.
        fn count(&mut self, threshold: u64) -> u64 {
            match self.below(10) {
                0..=2 => 0,
                3..=5 => 1 + self.below(threshold.max(1)),
                6..=7 => threshold + 1 + self.below(3),
                _ => self.below(60),
            }
        }

        fn table(&mut self, rows: u64, columns: u64, threshold: u64) -> Vec<Vec<u64>> {
            (0..rows)
                .map(|_| (0..columns).map(|_| self.count(threshold)).collect())
                .collect()
        }
    }

    #[test]
    fn published_tables_cannot_be_back_solved() {
        let mut random = Random(20220915);
        for _ in 0..400 {
            let threshold = [1, 2, 3, 9][random.below(4) as usize];
            let margins = ALL_MARGINS[random.below(4) as usize];
            let rows = 1 + random.below(5);
            let columns = 1 + random.below(5);
            let cells = random.table(rows, columns, threshold);
            published_safely(&cells, threshold, margins);
        }
    }

    #[test]
    fn prefecture_sized_tables_cannot_be_back_solved() {
        let mut random = Random(33);
        for (rows, columns) in [(33, 8), (60, 20)] {
            for margins in [Margins::BOTH, Margins::COLUMNS_ONLY] {
                // Municipalities × bands: a few towns with many children, most with few.
                let cells: Vec<Vec<u64>> = (0..rows)
                    .map(|row| {
                        let scale = if row < 3 { 60 } else { 8 };
                        (0..columns).map(|_| random.below(scale)).collect()
                    })
                    .collect();
                published_safely(&cells, 9, margins);
            }
        }
    }
}
