//! Which app serves a path, and swapping an app for a verified replacement
//! while requests run.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::Result;
use lucet_serve::cli::Route;

use crate::app::{App, Loader};

/// One prefix and the app serving it now.
pub struct Served {
    pub prefix: String,
    pub path: PathBuf,
    /// Requests take a clone of the `Arc`: one that started on the old app
    /// finishes on it after a reload.
    app: RwLock<Arc<App>>,
}

impl Served {
    pub fn app(&self) -> Arc<App> {
        Arc::clone(
            &self
                .app
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}

/// What a reload did to one route.
pub enum Reloaded {
    /// The file holds the image already served.
    Unchanged,
    /// The replacement verified and is served from now on.
    Replaced { from: String, to: String },
}

/// Every route, longest prefix first.
pub struct Routes {
    routes: Vec<Served>,
}

impl Routes {
    /// Loads every route's app; any refusal refuses the start. Prefixes
    /// are distinct (`Args::check`).
    pub fn load(loader: &Loader, routes: &[Route]) -> Result<Routes> {
        let mut served: Vec<Served> = Vec::with_capacity(routes.len());
        for route in routes {
            let app = load_route(loader, &route.app, None)?;
            served.push(Served {
                prefix: route.prefix.clone(),
                path: route.app.clone(),
                app: RwLock::new(Arc::new(app)),
            });
        }
        served.sort_by_key(|route| std::cmp::Reverse(route.prefix.len()));
        Ok(Routes { routes: served })
    }

    /// The route whose prefix is the longest one `path` is under.
    pub fn find(&self, path: &str) -> Option<&Served> {
        self.routes
            .iter()
            .find(|route| is_under(path, &route.prefix))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Served> {
        self.routes.iter()
    }

    /// Loads `route`'s file again; serves it from now on only if it verifies
    /// and is not older than the app it replaces. On refusal the old app
    /// keeps serving.
    pub fn reload(loader: &Loader, route: &Served) -> Result<Reloaded> {
        let current = route.app();
        let replacement = load_route(loader, &route.path, Some(current.timestamp))?;
        if replacement.image_hash == current.image_hash {
            return Ok(Reloaded::Unchanged);
        }
        let from = current.image.clone();
        let to = replacement.image.clone();
        *route
            .app
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(replacement);
        Ok(Reloaded::Replaced { from, to })
    }
}

fn load_route(loader: &Loader, path: &Path, not_before: Option<u64>) -> Result<App> {
    use anyhow::Context;
    loader
        .load(path, not_before)
        .with_context(|| path.display().to_string())
}

/// `/api` takes `/api` and `/api/x`, not `/apix`; `/` takes every path.
fn is_under(path: &str, prefix: &str) -> bool {
    prefix == "/"
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::is_under;

    #[test]
    fn a_prefix_takes_whole_segments() {
        assert!(is_under("/api", "/api"));
        assert!(is_under("/api/", "/api"));
        assert!(is_under("/api/v1?x", "/api"));
        assert!(!is_under("/apix", "/api"));
        assert!(!is_under("/ap", "/api"));
        assert!(is_under("/anything", "/"));
        assert!(is_under("", "/"));
    }
}
