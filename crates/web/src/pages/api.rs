//! The JSON API (`/api/v1`). Same sessions, same policy and same audit as the pages; errors
//! come back as `application/problem+json`.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use tsunagu_domain::policy::Action;
use tsunagu_store::geo;

use crate::AppState;
use crate::ctx::Ctx;
use crate::error::AppError;
use crate::routes::AppRouter;

pub fn routes(r: AppRouter) -> AppRouter {
    r.get("/api/v1/me", Action::ViewHome, me)
        .get(
            "/api/v1/municipalities",
            Action::ViewGeography,
            municipalities,
        )
        .get("/api/v1/areas", Action::ViewGeography, areas)
}

#[derive(Serialize)]
struct Me {
    login_id: String,
    display_name: String,
    organisation_id: String,
    organisation_name: String,
    roles: Vec<&'static str>,
    two_factor_enabled: bool,
}

async fn me(ctx: Ctx) -> Result<Json<Me>, AppError> {
    let s = ctx.session()?;
    Ok(Json(Me {
        login_id: s.user.login_id.clone(),
        display_name: s.user.display_name.clone(),
        organisation_id: s.user.organisation_id.clone(),
        organisation_name: s.user.organisation_name.clone(),
        roles: s.user.roles.iter().map(|r| r.code()).collect(),
        two_factor_enabled: s.user.totp_enabled,
    }))
}

#[derive(Deserialize, Default)]
struct PrefQuery {
    #[serde(default)]
    prefecture: String,
    #[serde(default)]
    include_retired: bool,
}

async fn municipalities(
    State(st): State<AppState>,
    Query(q): Query<PrefQuery>,
) -> Result<Json<Vec<geo::Municipality>>, AppError> {
    let pref = if q.prefecture.is_empty() {
        st.cfg.prefecture_code.clone()
    } else {
        tsunagu_domain::geo::parse_prefecture_code(&q.prefecture)
            .map_err(|e| AppError::BadRequest(e.to_string()))?
    };
    Ok(Json(
        geo::municipalities(&st.db, &pref, q.include_retired).await?,
    ))
}

async fn areas(State(st): State<AppState>) -> Result<Json<Vec<geo::Area>>, AppError> {
    Ok(Json(geo::areas(&st.db, &st.cfg.prefecture_code).await?))
}
