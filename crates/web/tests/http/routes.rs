//! Every route declares an action, and the declared action is enforced before any handler.

use tsunagu_domain::policy::{Action, Target, can};

use crate::both;
use crate::support::*;

fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg == "{*path}" {
                "app.css".to_string()
            } else if seg.starts_with('{') {
                "00000000-0000-7000-8000-000000000000".to_string()
            } else {
                seg.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn routes_are_only_added_through_the_action_table() {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut stack = vec![std::path::PathBuf::from(src)];
    let mut offenders = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("routes.rs") {
                let text = std::fs::read_to_string(&path).expect("read");
                if text.contains(".route(") || text.contains(".nest(") || text.contains(".merge(") {
                    offenders.push(path.display().to_string());
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "routes added outside routes::AppRouter (no declared action): {offenders:?}"
    );
}

both!(every_route_is_guarded_by_its_declared_action, |app| {
    let (_, registry) = tsunagu_web::app(app.db.clone(), test_config());
    assert!(registry.specs().len() > 20);
    // Anonymous: only public routes answer; others send to sign-in (or 401 for the API).
    let anon = app.client();
    for spec in registry.specs() {
        if spec.action == Action::Public {
            continue;
        }
        let url = format!("{}{}", anon.base, concrete(spec.path));
        let req = if spec.method == reqwest::Method::GET {
            anon.http.get(&url)
        } else {
            anon.http.post(&url).form(&[("csrf_token", "x")])
        };
        let status = req.send().await.expect("send").status().as_u16();
        let expected: &[u16] = if spec.path.starts_with("/api/") {
            &[401]
        } else if spec.method == reqwest::Method::GET {
            &[303]
        } else {
            &[303, 403]
        };
        assert!(
            expected.contains(&status),
            "anonymous {} {} → {status}",
            spec.method,
            spec.path
        );
    }
    // Signed in: a route whose action the role may not do at all answers 403.
    for login in ["viewer", "municipal", "coordinator"] {
        let c = app.signed_in(login).await;
        let user = tsunagu_store::accounts::find_by_login(&app.db, login)
            .await
            .expect("find")
            .expect("exists");
        let municipality_code6: Option<String> =
            sqlx::query_scalar("SELECT municipality_code6 FROM organisations WHERE id = $1")
                .bind(&user.organisation_id)
                .fetch_one(app.db.pool())
                .await
                .expect("organisation");
        let actor = tsunagu_domain::policy::Actor {
            user_id: user.id.clone(),
            organisation_id: user.organisation_id.clone(),
            municipality_code6,
            roles: user.roles.clone(),
        };
        for spec in registry.specs() {
            if can(Some(&actor), spec.action, Target::Any) {
                continue;
            }
            let url = format!("{}{}", c.base, concrete(spec.path));
            let req = if spec.method == reqwest::Method::GET {
                c.http.get(&url)
            } else {
                c.http.post(&url).form(&[("csrf_token", c.csrf.as_str())])
            };
            let status = req.send().await.expect("send").status().as_u16();
            assert_eq!(status, 403, "{login} {} {}", spec.method, spec.path);
        }
    }
});
