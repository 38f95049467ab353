//! The types the rest of the crate speaks. Input types cannot hold an invalid value: every string
//! from a user (an instance name, a cookie, a deploy body) is parsed here once, with an error that
//! names the field and says what to do. Container facts ([`ContainerInfo`]) are what any backend
//! reports; the labels spawner writes and reads back are owned by [`InstanceLabels`].

mod api_token;
mod container;
pub mod deploy_request;
pub mod deploy_schema;
pub mod flag;
pub mod idle;
pub mod image_reference;
pub mod instance_labels;
mod instance_name;
pub mod limits;
mod network;
mod pull_policy;
mod recreate_request;
pub mod registry;
pub mod routing;
pub mod session;
pub mod volumes;
pub mod wire;

pub use api_token::ApiToken;
pub use container::{ContainerInfo, Health, RunState};
pub use deploy_request::{DeployRequest, DeploySpec};
pub use idle::IdleAction;
pub use instance_labels::InstanceLabels;
pub use instance_name::InstanceName;
pub use network::{NetworkInfo, ICC_OPTION};
pub use pull_policy::PullPolicy;
pub use recreate_request::{RecreateRequest, RecreateSpec};
pub use routing::Routing;
