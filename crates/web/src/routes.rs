//! The route table. Every route is added here with the action it performs, so the one policy
//! can authorise each request before its handler runs (see `ctx::context`).

use std::collections::HashMap;

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodRouter, get, post};
use tsunagu_domain::policy::Action;

use crate::AppState;

/// A route and the action it performs.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub action: Action,
}

/// Builds the router and records each route's action. Routes are only added through this.
pub struct AppRouter {
    router: Router<AppState>,
    specs: Vec<RouteSpec>,
}

impl Default for AppRouter {
    fn default() -> Self {
        AppRouter {
            router: Router::new(),
            specs: Vec::new(),
        }
    }
}

impl AppRouter {
    pub fn get<H, T>(self, path: &'static str, action: Action, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::GET, path, action, get(handler))
    }

    pub fn post<H, T>(self, path: &'static str, action: Action, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::POST, path, action, post(handler))
    }

    fn add(
        mut self,
        method: Method,
        path: &'static str,
        action: Action,
        route: MethodRouter<AppState>,
    ) -> Self {
        self.specs.push(RouteSpec {
            method,
            path,
            action,
        });
        self.router = self.router.route(path, route);
        self
    }

    pub fn finish(self) -> (Router<AppState>, Registry) {
        let mut map = HashMap::new();
        for s in &self.specs {
            map.insert((s.method.clone(), s.path), s.action);
        }
        (
            self.router,
            Registry {
                map,
                specs: self.specs,
            },
        )
    }
}

/// Which action each (method, path pattern) performs.
#[derive(Debug, Default)]
pub struct Registry {
    map: HashMap<(Method, &'static str), Action>,
    specs: Vec<RouteSpec>,
}

impl Registry {
    pub fn action(&self, method: &Method, path: &str) -> Option<Action> {
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        self.map
            .iter()
            .find(|((m, p), _)| m == method && *p == path)
            .map(|(_, a)| *a)
    }

    /// The methods `path` (a route pattern) answers, HEAD included where GET is.
    pub fn methods(&self, path: &str) -> Vec<Method> {
        let mut out: Vec<Method> = Vec::new();
        for s in self.specs.iter().filter(|s| s.path == path) {
            if !out.contains(&s.method) {
                out.push(s.method.clone());
            }
            if s.method == Method::GET && !out.contains(&Method::HEAD) {
                out.push(Method::HEAD);
            }
        }
        out
    }

    pub fn specs(&self) -> &[RouteSpec] {
        &self.specs
    }
}
