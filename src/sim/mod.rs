//! Local stand-ins for the services the operator talks to, shipped as the `exo-sim` binary:
//! a Microsoft 365 tenant simulator (`m365`) and a Kubernetes API emulator (`kube`). The
//! operator never calls into this module; it reaches both over their real wire protocols.

pub mod kube;
pub mod m365;
pub mod serve;
pub mod tls;
