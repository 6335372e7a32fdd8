//! A small HTTP server on 127.0.0.1 the tests' runs reach through their door: `/hello`, `/big`
//! (a megabyte), and a count of the requests it served.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::routing::get;
use axum::Router;

pub struct Origin {
    pub port: u16,
    hits: Arc<AtomicUsize>,
}

impl Origin {
    pub async fn start() -> Origin {
        Origin::serve(Router::new()).await
    }

    /// Serves `extra` routes besides `/hello` and `/big`.
    pub async fn serve(extra: Router) -> Origin {
        let hits = Arc::new(AtomicUsize::new(0));
        let (h1, h2) = (hits.clone(), hits.clone());
        let app = extra
            .route(
                "/hello",
                get(move || async move {
                    h1.fetch_add(1, Ordering::SeqCst);
                    "hello from origin"
                }),
            )
            .route(
                "/big",
                get(move || async move {
                    h2.fetch_add(1, Ordering::SeqCst);
                    vec![b'x'; 1 << 20]
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Origin { port, hits }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}
