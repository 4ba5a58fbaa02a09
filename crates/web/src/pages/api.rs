use crate::routes::AppRouter;

pub fn routes(r: AppRouter) -> AppRouter {
    r
}
