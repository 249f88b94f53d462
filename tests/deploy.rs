//! `herdctl deploy`: the compose file and the Kubernetes manifests are YAML, give every server
//! a service, mount a topology that herdctl itself reads back with the same servers and links,
//! and every neighbour in it is dialled by a service name that exists.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use herdctl::config::{DEFAULT_BASE_PORT, Topology};
use herdctl::deploy::{self, ADMIN_PORT, TOPOLOGY_PATH};
use serde::Deserialize;
use serde_json::Value;

/// Every YAML document of `text`.
fn documents(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|document| Value::deserialize(document).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn topologies() -> Vec<Topology> {
    let odd = "[[server]]\nname = \"Up_Town\"\nport = 7001\nneighbours = [\"down.town\"]\n\
               [[server]]\nname = \"down.town\"\nport = 7002\nx = 1.5\ny = 2\n\
               [[server]]\nname = \"Solo\"\nport = 7003\n";
    let mut all: Vec<Topology> = ["cs131", "cs131-2019", "grid:3x3", "star:6", "tree:7"]
        .iter()
        .map(|spec| Topology::load(spec, DEFAULT_BASE_PORT).unwrap())
        .collect();
    all.push(Topology::from_toml(odd, "odd.toml").unwrap());
    all
}

/// The deployed topology has the given one's servers (names, ports) and links, every server
/// binding 0.0.0.0 and dialled by one of `services`.
/// What every container runs: `serve NAME` on the mounted topology, its admin endpoint on
/// all interfaces.
fn serve(name: &str) -> Value {
    let admin = format!("0.0.0.0:{ADMIN_PORT}");
    serde_json::json!([
        "serve",
        name,
        "--topology",
        TOPOLOGY_PATH,
        "--admin",
        admin,
        "--admin-public"
    ])
}

fn check_mounted(given: &Topology, text: &str, services: &BTreeSet<String>) {
    let mounted = Topology::from_toml(text, "mounted.toml").unwrap();
    let names = |t: &Topology| -> Vec<(String, u16)> {
        t.servers.iter().map(|s| (s.name.clone(), s.port)).collect()
    };
    assert_eq!(names(&mounted), names(given));
    assert_eq!(mounted.links(), given.links());
    for server in &mounted.servers {
        assert_eq!(server.host, "0.0.0.0", "{}", server.name);
        assert!(services.contains(&server.dial), "{} dials {:?}", server.name, server.dial);
        for &n in &server.neighbours {
            let dial = &mounted.servers[n].dial;
            assert!(services.contains(dial), "{}'s neighbour dials {dial:?}", server.name);
        }
    }
    // An attached console reads each server at its own service's admin port.
    let plan = herdctl::attach::plan(&mounted, None).unwrap();
    assert_eq!(plan.endpoints.len(), mounted.servers.len());
    for (server, endpoint) in mounted.servers.iter().zip(&plan.endpoints) {
        assert_eq!(endpoint.addr, format!("{}:{}", server.dial, deploy::ADMIN_PORT));
    }
}

#[test]
fn the_compose_file_gives_every_server_a_service_and_mounts_a_consistent_topology() {
    for topology in topologies() {
        let text = deploy::compose(&topology).unwrap();
        let docs = documents(&text);
        assert_eq!(docs.len(), 1, "{text}");
        let file = &docs[0];
        let services = file["services"].as_object().unwrap();
        assert_eq!(services.len(), topology.servers.len());
        let names: BTreeSet<String> = services.keys().cloned().collect();
        for server in &topology.servers {
            let label = deploy::dns_label(&server.name).unwrap();
            let service = &services[&label];
            assert_eq!(service["image"], deploy::IMAGE);
            assert_eq!(service["command"], serve(&server.name));
            assert_eq!(service["configs"][0]["target"], TOPOLOGY_PATH);
            assert_eq!(service["ports"][0], format!("{0}:{0}", server.port));
        }
        let content = file["configs"]["topology"]["content"].as_str().unwrap();
        check_mounted(&topology, content, &names);
    }
}

#[test]
fn the_kubernetes_manifests_give_every_server_a_deployment_and_a_service() {
    for topology in topologies() {
        let text = deploy::kubernetes(&topology).unwrap();
        let docs = documents(&text);
        assert_eq!(docs.len(), 1 + 2 * topology.servers.len(), "{text}");
        let mut by_kind: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
        for doc in &docs {
            by_kind.entry(doc["kind"].as_str().unwrap().to_owned()).or_default().push(doc);
        }
        let name = |doc: &Value| doc["metadata"]["name"].as_str().unwrap().to_owned();
        let services: BTreeSet<String> = by_kind["Service"].iter().map(|d| name(d)).collect();
        let deployments: BTreeSet<String> = by_kind["Deployment"].iter().map(|d| name(d)).collect();
        assert_eq!(services.len(), topology.servers.len());
        assert_eq!(services, deployments);
        for server in &topology.servers {
            let label = deploy::dns_label(&server.name).unwrap();
            let service = by_kind["Service"].iter().find(|d| name(d) == label).unwrap();
            let ports = &service["spec"]["ports"];
            assert_eq!(ports[0]["port"], u64::from(server.port));
            assert_eq!(ports[1]["port"], u64::from(ADMIN_PORT));
            let deployment = by_kind["Deployment"].iter().find(|d| name(d) == label).unwrap();
            let selector = &deployment["spec"]["selector"]["matchLabels"];
            assert_eq!(&service["spec"]["selector"], selector);
            let pod = &deployment["spec"]["template"];
            for (key, value) in selector.as_object().unwrap() {
                assert_eq!(&pod["metadata"]["labels"][key], value);
            }
            let annotations = &pod["metadata"]["annotations"];
            assert_eq!(annotations["prometheus.io/scrape"], "true");
            assert_eq!(annotations["prometheus.io/port"], ADMIN_PORT.to_string());
            let container = &pod["spec"]["containers"][0];
            assert_eq!(container["args"], serve(&server.name));
            let mount = &container["volumeMounts"][0];
            assert_eq!(
                format!("{}/{}", mount["mountPath"].as_str().unwrap(), deploy::TOPOLOGY_FILE),
                TOPOLOGY_PATH
            );
            assert_eq!(pod["spec"]["volumes"][0]["configMap"]["name"], deploy::CONFIG_MAP);
        }
        let config_maps = &by_kind["ConfigMap"];
        assert_eq!(config_maps.len(), 1);
        assert_eq!(name(config_maps[0]), deploy::CONFIG_MAP);
        let content = config_maps[0]["data"][deploy::TOPOLOGY_FILE].as_str().unwrap();
        check_mounted(&topology, content, &services);
    }
}

#[test]
fn the_commands_print_the_manifests_and_refuse_a_clash() {
    let herdctl = env!("CARGO_BIN_EXE_herdctl");
    for (target, expected) in [("compose", "services"), ("k8s", "kind: Deployment")] {
        let out = Command::new(herdctl).args(["deploy", target, "cs131"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(expected), "{text}");
        assert!(!documents(&text).is_empty());
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clash.toml");
    std::fs::write(
        &path,
        "[[server]]\nname = \"A_b\"\nport = 1\n[[server]]\nname = \"a-b\"\nport = 2\n",
    )
    .unwrap();
    let out = Command::new(herdctl).args(["deploy", "compose"]).arg(&path).output().unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(message.contains("\"A_b\"") && message.contains("\"a-b\""), "{message}");
}
