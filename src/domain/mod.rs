//! Input types that cannot hold an invalid value: every string from a user (an instance name, a
//! cookie, a deploy body) is parsed here once, with an error that names the field and says what to
//! do, and the rest of the crate only handles the parsed types.

mod deploy_request;
mod instance_name;

pub use deploy_request::{DeployRequest, DeploySpec};
pub use instance_name::InstanceName;
