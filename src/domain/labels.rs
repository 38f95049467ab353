//! The labels spawner reads and writes on its containers, named once. A container is spawner's
//! if, and only if, it carries `origin=spawner`; the `spawner.` prefix is reserved for spawner.

/// The label that marks a container as spawner's, and its value.
pub const ORIGIN: &str = "origin";
pub const ORIGIN_VALUE: &str = "spawner";
/// Labels under this prefix are set by spawner alone; a deploy body may not choose them.
pub const RESERVED_PREFIX: &str = "spawner.";
/// The service port given at creation (`port` in the deploy body).
pub const PORT: &str = "spawner.port";
/// The network the container was created on: its address there is the one probed.
pub const NETWORK: &str = "spawner.network";
/// Which spawner a container belongs to, so that two stacks on one daemon keep apart.
pub const SCOPE: &str = "spawner.scope";
/// A random value given at creation that every session of the instance is signed with: a
/// session ends with its instance, even if the name is created again.
pub const SESSION_EPOCH: &str = "spawner.session-epoch";
/// On a network: its subnet is its own (given at creation), so spawner gives each instance a
/// fixed address in it. Docker refuses fixed addresses on a network whose subnet it chose, and
/// its inspection does not tell the two apart, hence the label.
pub const FIXED_ADDRESSES: &str = "spawner.fixed-addresses";
/// How long the instance may stay idle before it sleeps (`0`: never), as the deploy body gave it.
pub const IDLE_TIMEOUT: &str = "spawner.idle-timeout";
/// What it is put into when idle: `stop` or `pause`.
pub const IDLE_ACTION: &str = "spawner.idle-action";
/// How long it stays paused before it is stopped (`0`: for ever), as the deploy body gave it.
pub const PAUSE_TIMEOUT: &str = "spawner.pause-timeout";
/// The instance's volumes, `{"<name>": "/path"}` as JSON: a recreate mounts them again.
pub const VOLUMES: &str = "spawner.volumes";
/// The names of the environment variables the deploy body set, as a JSON list: a recreate keeps
/// these (and not the image's own).
pub const ENVS: &str = "spawner.envs";
/// `allow`: the instance may register a service worker although it shares the site's origin
/// (cookie and path routing); the deploy body's `service_worker: true`.
pub const SERVICE_WORKER: &str = "spawner.service-worker";
/// On a volume: the instance it belongs to, and its short name.
pub const VOLUME_OF: &str = "spawner.instance";
pub const VOLUME_NAME: &str = "spawner.volume";
/// URL probed for readiness; the old spawner's clients send `health-check`, older ones `healthcheck`.
pub const HEALTH_CHECK: [&str; 2] = ["health-check", "healthcheck"];

/// The traefik Docker-provider label that the old clients use to name an instance's port.
pub fn traefik_port(instance: &str) -> String {
    format!("traefik.http.services.{instance}.loadbalancer.server.port")
}

/// Whether a client may not set this label itself.
pub fn is_reserved(key: &str) -> bool {
    key == ORIGIN || key.starts_with(RESERVED_PREFIX)
}
