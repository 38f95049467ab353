//! The labels spawner writes read back as they were meant, old containers' labels too.
use super::*;
use crate::domain::deploy_request::tests::parse;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    let owned = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    owned.collect()
}

#[test]
fn a_plain_deploy_gets_only_the_labels_that_make_it_spawners() {
    let written =
        InstanceLabels::for_deploy(&parse(r#"{"name":"mm","image":"i"}"#).unwrap(), "s", "e");
    let expected = labels(&[
        ("origin", "spawner"),
        ("spawner.envs", "[]"),
        ("spawner.network", "net"),
        ("spawner.scope", "s"),
        ("spawner.session-epoch", "e"),
    ]);
    assert_eq!(written, expected);
}

#[test]
fn every_deploy_field_is_written_in_the_old_format_and_reads_back_typed() {
    let body = r#"{"name":"mm","image":"i","port":9000,"labels":{"note":"n"},
        "envs":{"B":"2","A":"1"},"idle_timeout":" 1h30m ","idle_action":"PAUSE",
        "volumes":{"work":"/w/","cache":"/c"},"service_worker":true}"#;
    let spec = parse(body).unwrap();
    let written = InstanceLabels::for_deploy(&spec, "s", "e");
    let volumes = r#"[{"name":"cache","target":"/c"},{"name":"work","target":"/w"}]"#;
    for (key, value) in [
        ("note", "n"),
        ("spawner.port", "9000"),
        ("spawner.envs", r#"["A","B"]"#),
        ("spawner.idle-timeout", "1h30m"),
        ("spawner.idle-action", "pause"),
        ("spawner.volumes", volumes),
        ("spawner.service-worker", "allow"),
    ] {
        assert_eq!(written[key], value, "{key}");
    }
    let read = InstanceLabels::new("mm", &written);
    assert!(read.is_managed() && read.allows_service_worker());
    assert_eq!((read.scope(), read.network()), (Some("s"), Some("net")));
    assert_eq!(
        (read.session_epoch(), read.service_port()),
        ("e", Some(9000))
    );
    assert_eq!(read.idle_timeout(), Some(Some(Duration::from_secs(5400))));
    assert_eq!(read.idle_action(), Some(IdleAction::Pause));
    assert_eq!(read.env_names(), Some(vec!["A".into(), "B".into()]));
    assert_eq!(read.volumes(), spec.volumes);
}

#[test]
fn a_container_of_the_go_tool_reads_as_the_settings_defaults() {
    let other = "traefik.http.services.other.loadbalancer.server.port";
    let old = labels(&[("origin", "spawner"), (other, "9000")]);
    let read = InstanceLabels::new("minion-1", &old);
    assert!(read.is_managed() && !read.allows_service_worker());
    assert_eq!((read.scope(), read.network()), (None, None));
    assert_eq!((read.session_epoch(), read.service_port()), ("", None));
    assert_eq!((read.idle_timeout(), read.idle_action()), (None, None));
    assert_eq!((read.env_names(), read.health_check()), (None, None));
    assert!(read.volumes().is_empty() && read.pause_timeout().is_none());
    assert!(!InstanceLabels::new("x", &labels(&[("origin", "other")])).is_managed());
    let paused = labels(&[("spawner.pause-timeout", "0")]);
    assert_eq!(
        InstanceLabels::new("x", &paused).pause_timeout(),
        Some(None)
    );
}

#[test]
fn the_health_check_is_the_first_old_key_present_and_only_an_http_url() {
    let read = |pairs: &[(&str, &str)]| InstanceLabels::new("m", &labels(pairs)).health_check();
    let old = read(&[("healthcheck", " http://m:9/s?x=1 ")]).unwrap();
    assert_eq!((old.port, old.path.as_str()), (Some(9), "/s?x=1"));
    let both = read(&[("health-check", "http://m"), ("healthcheck", "http://m:9/")]);
    assert_eq!(both.map(|c| (c.port, c.path)), Some((None, "/".into())));
    for bad in ["https://m/", "/status"] {
        let first = read(&[("health-check", bad), ("healthcheck", "http://m:9/")]);
        assert_eq!(first, None, "{bad}");
    }
}

#[test]
fn labels_that_do_not_parse_are_ignored() {
    let bad = labels(&[
        ("spawner.port", "x"),
        ("spawner.idle-timeout", "99999999999h"),
        ("spawner.idle-action", "sleep"),
        ("spawner.pause-timeout", "soon"),
        ("spawner.envs", "A,B"),
        ("spawner.volumes", "{"),
        ("spawner.service-worker", "yes"),
    ]);
    let read = InstanceLabels::new("m", &bad);
    assert_eq!((read.idle_timeout(), read.idle_action()), (None, None));
    assert_eq!((read.env_names(), read.service_port()), (None, None));
    assert_eq!(read.pause_timeout(), None);
    assert!(read.volumes().is_empty() && !read.allows_service_worker());
}

#[test]
fn a_recreate_records_its_variables_and_the_network_it_keeps() {
    let mut map = labels(&[("spawner.envs", r#"["OLD"]"#)]);
    InstanceLabels::set_envs(&mut map, &BTreeMap::from([("NEW".into(), "1".into())]));
    InstanceLabels::set_network(&mut map, "net");
    let read = InstanceLabels::new("m", &map);
    assert_eq!(read.env_names(), Some(vec!["NEW".into()]));
    assert_eq!(read.network(), Some("net"));
}

#[test]
fn volumes_and_the_network_carry_their_owner_and_scope() {
    let owner = volume_owner("s", "minion-1");
    let volume = volume_labels("s", "minion-1", "data");
    assert!(owner.iter().all(|(k, v)| volume.get(k) == Some(v)));
    assert_eq!(owner["spawner.scope"], "s");
    assert_eq!(volume["spawner.instance"], "minion-1");
    assert_eq!(volume["spawner.volume"], "data");
    assert!(has_fixed_addresses(&network_labels("s")));
    let not = labels(&[("spawner.fixed-addresses", "1")]);
    assert!(!has_fixed_addresses(&not));
    assert_eq!(fixed_addresses_label(), "spawner.fixed-addresses=true");
    assert_eq!(managed_filter(), "origin=spawner");
    assert!(is_reserved("origin") && is_reserved("spawner.scope"));
    assert!(!is_reserved("health-check") && !is_reserved("spawnerx"));
}
