//! Actors: the owners of mutable state, one per file with its messages beside it.
//!
//! `ingester/` holds the ingester's supervisor, tenant and stream-shard actors.
//! Every actor answers [`Observe`] with a snapshot of its counters.

pub mod ingester;
pub mod querier;
pub mod scheduler;

use std::marker::PhantomData;

use actix::Message;

/// Asks an actor for a snapshot of its counters of type `C`.
pub struct Observe<C>(PhantomData<C>);

impl<C> Observe<C> {
    pub fn new() -> Self {
        Observe(PhantomData)
    }
}

impl<C> Default for Observe<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: 'static> Message for Observe<C> {
    type Result = C;
}
