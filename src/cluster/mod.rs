//! Cluster membership and the hash ring.
//!
//! [`membership`] gossips this node's state with chitchat and keeps a
//! [`membership::ClusterView`] of every member; [`keys`] names what is gossiped;
//! [`ring`] is the consistent-hash ring of ingesters (tokens, states, heartbeats,
//! replication sets with quorum). [`pages`] renders `/memberlist` and `/ring`
//! (whose "Forget" is [`forget`]);
//! [`addr`] picks the address a node advertises when the config names none.

pub mod addr;
pub mod forget;
pub mod keys;
pub mod membership;
pub mod pages;
pub mod ring;
