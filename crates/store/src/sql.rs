//! The one SQL builder: a WHERE clause with its numbered parameters (`$1…`, which SQLite and
//! PostgreSQL both read), started from what the policy lets the actor see.
//!
//! A list or a read by id of anything that belongs to an organisation, a municipality or a
//! user starts from [`Where::scoped`], which turns the actor's scope for the action into a
//! condition on the columns that carry the owner, and into `1 = 0` when the policy allows
//! nothing or names an owner this table has no column for. Nothing allowed, no rows.

use sqlx::Row;
use tsunagu_domain::policy::{Action, Actor, Scope, scope};

use crate::{Db, Result, StoreError};

/// A parameter's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    Text(String),
    Int(i64),
}

/// Which columns of the rows being read carry the owner a scope can name. A scope whose owner
/// has no column here sees nothing: a table that only the whole center reads has none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Owners {
    pub organisation: Option<&'static str>,
    pub municipality: Option<&'static str>,
    pub user: Option<&'static str>,
}

impl Owners {
    /// Rows only the whole center reads (e.g. consultations, the audit log).
    pub const CENTER_ONLY: Owners = Owners {
        organisation: None,
        municipality: None,
        user: None,
    };
}

/// A WHERE clause: conditions joined by ` AND `, each starting with it, to follow
/// `WHERE 1 = 1`; and their values in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Where {
    sql: String,
    binds: Vec<Bind>,
    nothing: bool,
}

impl Where {
    /// The rows `actor` may see when doing `action`, given which columns carry their owners.
    pub fn scoped(actor: &Actor, action: Action, owners: Owners) -> Where {
        let mut w = Where::default();
        let (column, value) = match scope(Some(actor), action) {
            Scope::All => return w,
            Scope::Organisation(id) => (owners.organisation, id),
            Scope::Municipality(code6) => (owners.municipality, code6),
            Scope::User(id) => (owners.user, id),
            Scope::Nothing => (None, String::new()),
        };
        match column {
            Some(c) => w.and_text(&format!("{c} = ?"), value),
            None => w.deny(),
        }
        w
    }

    /// A clause over rows the caller already chose through a scoped one (a page of ids it
    /// read), or over public rows.
    pub fn ids_in(column: &str, ids: &[String]) -> Where {
        let mut w = Where::default();
        w.and_in(column, ids);
        w
    }

    /// Whether the clause can match nothing, so that a caller may answer without asking.
    pub fn allows_nothing(&self) -> bool {
        self.nothing
    }

    /// Matches nothing from now on.
    pub fn deny(&mut self) {
        self.nothing = true;
        self.raw("1 = 0");
    }

    /// Adds ` AND cond`, where `?` in `cond` is the next parameter (every `?` the same one).
    pub fn and_text(&mut self, cond: &str, v: impl Into<String>) {
        let p = self.param(Bind::Text(v.into()));
        self.raw(&cond.replace('?', &p));
    }

    /// Adds ` AND cond` with one number parameter for `?`.
    pub fn and_int(&mut self, cond: &str, v: i64) {
        let p = self.param(Bind::Int(v));
        self.raw(&cond.replace('?', &p));
    }

    /// Adds ` AND column IN (…)` with one parameter per value (none: nothing matches).
    pub fn and_in(&mut self, column: &str, values: &[String]) {
        if values.is_empty() {
            self.deny();
            return;
        }
        let first = self.binds.len() + 1;
        self.binds
            .extend(values.iter().map(|v| Bind::Text(v.clone())));
        self.raw(&format!(
            "{column} IN ({})",
            placeholders(first, values.len())
        ));
    }

    /// Adds ` AND cond` as it is (no parameter).
    pub fn raw(&mut self, cond: &str) {
        self.sql.push_str(" AND ");
        self.sql.push_str(cond);
    }

    /// Adds a parameter without a condition and gives its placeholder (`$n`), for a condition
    /// the caller writes around it.
    pub fn param(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }

    /// The conditions, each starting with ` AND `.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// How many parameters the clause has: the next one a caller adds is this plus one.
    pub fn bind_count(&self) -> usize {
        self.binds.len()
    }

    /// Binds the clause's values to `q`, in order.
    pub fn bind<'q>(
        &'q self,
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        for b in &self.binds {
            q = match b {
                Bind::Text(s) => q.bind(s.as_str()),
                Bind::Int(i) => q.bind(*i),
            };
        }
        q
    }

    /// `sql` (which holds this clause) with the clause's values bound.
    pub fn query<'q>(
        &'q self,
        sql: &'q str,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        self.bind(sqlx::query(sql))
    }

    /// The one number `sql` (which holds this clause) gives.
    pub async fn number(&self, db: &Db, sql: &str) -> Result<i64> {
        let row = self.query(sql).fetch_one(db.pool()).await?;
        Ok(row.try_get(0)?)
    }

    /// The count of rows `from_where` (ending in `WHERE 1 = 1`) gives with this clause.
    pub async fn count(&self, db: &Db, from_where: &str) -> Result<i64> {
        self.number(db, &format!("{from_where}{}", self.sql)).await
    }

    /// The first column of every row `sql` (which holds this clause) gives: ids.
    pub async fn ids(&self, db: &Db, sql: &str) -> Result<Vec<String>> {
        self.query(sql)
            .fetch_all(db.pool())
            .await?
            .iter()
            .map(|r| r.try_get(0).map_err(StoreError::from))
            .collect()
    }
}

/// `$start, $start+1, …` for `n` values.
pub fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tsunagu_domain::roles::Role;

    fn actor(role: Role) -> Actor {
        Actor {
            user_id: "u-1".into(),
            organisation_id: "org-1".into(),
            municipality_code6: Some("032018".into()),
            roles: vec![role],
        }
    }

    const ORG_AND_MUNI: Owners = Owners {
        organisation: Some("o.id"),
        municipality: Some("o.municipality_code6"),
        user: None,
    };

    #[test]
    fn a_scope_becomes_a_condition_on_its_owner_column() {
        let center = Where::scoped(
            &actor(Role::CenterCoordinator),
            Action::ViewSurveys,
            ORG_AND_MUNI,
        );
        assert_eq!(center.sql(), "");
        assert!(!center.allows_nothing());

        let municipal = Where::scoped(
            &actor(Role::MunicipalOfficer),
            Action::ViewSurveys,
            ORG_AND_MUNI,
        );
        assert_eq!(municipal.sql(), " AND o.municipality_code6 = $1");
        assert_eq!(municipal.binds, [Bind::Text("032018".into())]);

        let own = Where::scoped(
            &actor(Role::HospitalStaff),
            Action::HandleReferrals,
            ORG_AND_MUNI,
        );
        assert_eq!(own.sql(), " AND o.id = $1");
    }

    #[test]
    fn no_allowed_scope_matches_nothing() {
        // The policy allows nothing.
        let viewer = Where::scoped(
            &actor(Role::Viewer),
            Action::ViewConsultations,
            Owners::CENTER_ONLY,
        );
        assert!(viewer.allows_nothing());
        assert_eq!(viewer.sql(), " AND 1 = 0");
        // The policy names an owner this table has no column for.
        let municipal = Where::scoped(
            &actor(Role::MunicipalOfficer),
            Action::ViewSurveys,
            Owners::CENTER_ONLY,
        );
        assert!(municipal.allows_nothing());
        // No ids: nothing.
        assert!(Where::ids_in("c.id", &[]).allows_nothing());
    }

    #[test]
    fn parameters_are_numbered_in_order() {
        let mut w = Where::default();
        w.and_text("a = ? OR b = ?", "x");
        w.and_int("n >= ?", 3);
        w.and_in("c", &["p".into(), "q".into()]);
        assert_eq!(
            w.sql(),
            " AND a = $1 OR b = $1 AND n >= $2 AND c IN ($3, $4)"
        );
        assert_eq!(w.bind_count(), 4);
        assert_eq!(w.param(Bind::Int(1)), "$5");
    }
}
