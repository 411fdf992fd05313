//! The simulator handle shared by everything above the state machine: the state behind its
//! mutex, the configuration, the event emitter and the SNS client, and the task that runs an
//! execution forward and publishes what that causes.
//!
//! Below the API (`ops`, `wire`, `source_host`) and the test-facing methods in `mod.rs`;
//! above the transitions (`engine`, `decisions`), `notify` and `events`, which never see it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::Utc;

use super::events::Emitter;
use super::model::SimConfig;
use super::notify;
use super::state::State;

/// A running simulator; cheap to clone, all clones share one state behind one mutex.
#[derive(Clone)]
pub struct CodePipelineSim {
    inner: Arc<Inner>,
}

struct Inner {
    config: SimConfig,
    addr: SocketAddr,
    state: Mutex<State>,
    /// Locked after `state` whenever both are held.
    events: Mutex<Emitter>,
    sns: aws_sdk_sns::Client,
}

impl CodePipelineSim {
    /// A simulator with no pipelines, answering at `addr`.
    pub(crate) fn new(config: SimConfig, addr: SocketAddr) -> CodePipelineSim {
        CodePipelineSim {
            inner: Arc::new(Inner {
                sns: notify::sns_client(&config),
                config,
                addr,
                state: Mutex::new(State::default()),
                events: Mutex::new(Emitter::default()),
            }),
        }
    }

    /// Base URL for the SDK's `endpoint_url`: `http://127.0.0.1:PORT`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// The state; never held across an await.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves consistent-enough data for a test.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The state-change event emitter; never held across an await.
    pub(crate) fn emitter(&self) -> MutexGuard<'_, Emitter> {
        self.inner
            .events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn config(&self) -> &SimConfig {
        &self.inner.config
    }

    /// Advances the execution in a spawned task and publishes the notifications it causes.
    pub(crate) fn run(&self, pipeline: &str, execution_id: &str) {
        let (sim, pipeline, execution_id) =
            (self.clone(), pipeline.to_owned(), execution_id.to_owned());
        tokio::spawn(async move {
            let region = &sim.inner.config.region;
            let publications = sim
                .lock()
                .advance(&pipeline, &execution_id, region, Utc::now());
            sim.emit_events();
            for publication in publications {
                let record = notify::publish(&sim.inner.sns, publication).await;
                sim.lock().notifications.push(record);
            }
        });
    }

    /// Queues the events for whatever changed since the last call.
    pub(crate) fn emit_events(&self) {
        let state = self.lock();
        self.emitter()
            .collect(&state.pipelines, self.config(), Utc::now());
    }
}
