//! Cluster membership and the hash ring.
//!
//! [`ring`] is the consistent-hash ring of ingesters (tokens, states, heartbeats,
//! replication sets with quorum). Membership over chitchat gossip, which feeds the
//! ring, comes with microservices mode; in the single binary the ring has one
//! member and replication factor 1.

pub mod ring;
