//! The command line: one `--key-with-dashes` per setting, plus `--config`. The old Go spawner's
//! single-dash form (`-use-path-routing=true`, `-container-prefix /p`) is accepted too, as Go's
//! flag package accepts it, so the old README's command lines keep working.

use clap::{Arg, ArgAction, Command};

use super::table::SETTINGS;

/// The command line: one `--key-with-dashes` per setting, plus `--config`.
pub fn command() -> Command {
    let mut cmd = Command::new("spawner")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Starts per-user Docker containers on demand behind traefik (ForwardAuth middleware)")
        .after_help(
            "Every setting can also be given as SPAWNER_<KEY> in the environment or as <key> in the \
             TOML file; the command line wins over the environment, which wins over the file.\n\
             Durations: 500ms, 2s, 1m. Logs: RUST_LOG (e.g. RUST_LOG=spawner=debug).",
        )
        .arg(
            Arg::new("config")
                .long("config")
                .value_name("FILE")
                .help("TOML file with settings [env: SPAWNER_CONFIG] [default: spawner.toml if present]"),
        );
    for (key, default, value_name, help) in SETTINGS {
        let mut arg = Arg::new(*key)
            .long(flag(key))
            .value_name(*value_name)
            .help(format!(
                "{help} [default: {}] [env: SPAWNER_{}]",
                if default.is_empty() { "\"\"" } else { default },
                key.to_uppercase()
            ))
            .action(ArgAction::Set);
        if *value_name == "BOOL" {
            // `--use-path-routing` alone means true; `--traefik-check-enabled=false` as in the old flags.
            arg = arg.num_args(0..=1).default_missing_value("true");
        }
        cmd = cmd.arg(arg);
    }
    cmd
}

pub fn flag(key: &str) -> String {
    key.replace('_', "-")
}

/// Rewrites Go-style `-name[=value]` into `--name[=value]` for every known long flag; anything
/// else (values, short flags such as `-h`) is left as it is. `args` includes the program name.
pub fn go_style(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let known = |name: &str| {
        ["config", "help", "version"].contains(&name)
            || SETTINGS.iter().any(|(key, ..)| flag(key) == name)
    };
    args.into_iter()
        .enumerate()
        .map(|(i, arg)| match arg.strip_prefix('-') {
            Some(rest)
                if i > 0
                    && !rest.starts_with('-')
                    && known(rest.split('=').next().unwrap_or_default()) =>
            {
                format!("-{arg}")
            }
            _ => arg,
        })
        .collect()
}
