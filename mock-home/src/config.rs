//! mock-home's settings, all from the environment (see the crate's doc for the list).

pub struct Config {
    pub spawner_api: String,
    pub spawner_token: String,
    pub app_image: String,
    pub app_port: u16,
    pub app_idle: String,
    pub cookie_key: String,
    pub path_prefix: String,
    /// Host routing: where an instance lives, `{name}` standing for its name
    /// (`https://{name}.apps.example.com/`); empty: by path prefix, else `/`.
    pub instance_url: String,
    /// Host routing: the `Domain` spawner sets its cookies on, so logout clears the same cookie.
    pub cookie_domain: String,
    /// Registrations per client address per minute (0: no cap).
    pub register_per_minute: u32,
}

pub fn env_or(key: &str, default: &str) -> String {
    std::env::var(key)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

impl Config {
    pub fn from_env() -> std::io::Result<Self> {
        let register_per_minute = env_or("REGISTER_PER_MINUTE", "10");
        let register_per_minute = register_per_minute.parse().map_err(|_| {
            std::io::Error::other(format!(
                "REGISTER_PER_MINUTE={register_per_minute:?} is not a count (0: no cap)"
            ))
        })?;
        Ok(Self {
            spawner_api: env_or("SPAWNER_API", "http://spawner:8008")
                .trim_end_matches('/')
                .into(),
            spawner_token: env_or("SPAWNER_API_TOKEN", ""),
            app_image: env_or("APP_IMAGE", "mock-app:latest"),
            app_port: env_or("APP_PORT", "9000").parse().unwrap_or(9000),
            app_idle: env_or("APP_IDLE", "1m"),
            cookie_key: env_or("COOKIE_KEY", "instance"),
            path_prefix: env_or("PATH_PREFIX", "").trim_end_matches('/').into(),
            instance_url: env_or("INSTANCE_URL", ""),
            cookie_domain: env_or("COOKIE_DOMAIN", ""),
            register_per_minute,
        })
    }

    /// Where a client goes once its cookie is set.
    pub fn instance_url(&self, name: &str) -> String {
        if !self.instance_url.is_empty() {
            self.instance_url.replace("{name}", name)
        } else if self.path_prefix.is_empty() {
            "/".into()
        } else {
            format!("{}/{name}/", self.path_prefix)
        }
    }
}
