//! Deploy manifests: a topology turned into a compose file or Kubernetes manifests that run
//! each server as `herdctl serve NAME` in a container of its own. Owns the mapping of server
//! names to DNS labels and the topology the containers mount (every server binding `0.0.0.0`
//! and dialled by its service name). Pure: a topology in, text out.

use serde_json::{Value, json};

use crate::config::Topology;

/// Where each container finds the topology.
pub const TOPOLOGY_PATH: &str = "/etc/herdctl/topology.toml";

/// The directory [`TOPOLOGY_PATH`] is in (the Kubernetes volume's mount point).
pub const TOPOLOGY_DIR: &str = "/etc/herdctl";

/// The topology's file name in the `ConfigMap`.
pub const TOPOLOGY_FILE: &str = "topology.toml";

/// The image the manifests run, as `assets/deploy/Containerfile` builds it.
pub const IMAGE: &str = "herdctl:latest";

/// The port of each server's admin endpoint (`serve --admin`), where Prometheus scrapes its
/// metrics and `herdctl attach` reads it (the topology names it as each server's `admin`).
pub const ADMIN_PORT: u16 = 9100;

/// The `ConfigMap` that holds the topology.
pub const CONFIG_MAP: &str = "herd-topology";

/// The longest DNS label.
pub const MAX_LABEL: usize = 63;

/// Why a topology cannot be deployed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// Two servers whose names map to the same DNS label.
    #[error(
        "servers {first:?} and {second:?} both map to the service name {label:?} \
         (rename one of them)"
    )]
    Clash { first: String, second: String, label: String },
    /// A name with no letter or digit, so no DNS label.
    #[error("server {name:?} maps to no service name: it has no letter or digit")]
    NoLabel { name: String },
    /// A server that picks a free port: its neighbours in other containers cannot know it.
    #[error(
        "server {name:?} has port 0: a deployed server needs a fixed port \
         (set one in the file, or a --base-port for a preset)"
    )]
    NoPort { name: String },
    /// Two servers on the same port: on one host (where compose publishes them) and in the
    /// mounted topology (every server on `0.0.0.0`) they would collide.
    #[error(
        "servers {first:?} and {second:?} both use port {port}: deployed, every server \
         listens on 0.0.0.0 and is published on the host, so each needs a port of its own"
    )]
    SharedPort { first: String, second: String, port: u16 },
    /// The manifests could not be written as YAML.
    #[error("cannot write the manifests as YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
}

/// `name` as a DNS label (RFC 1123): lowercase, every character but a letter or digit
/// turned into `-`, at most [`MAX_LABEL`] characters, starting and ending with a letter or
/// digit. `None` when nothing is left.
pub fn dns_label(name: &str) -> Option<String> {
    let mapped: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect();
    let trimmed = mapped.trim_start_matches('-');
    let cut = &trimmed[..trimmed.len().min(MAX_LABEL)];
    let label = cut.trim_end_matches('-');
    (!label.is_empty()).then(|| label.to_owned())
}

/// Every server's DNS label, in topology order: fails on a name with none, or on two names
/// with the same one.
pub fn labels(topology: &Topology) -> Result<Vec<String>, DeployError> {
    let mut labels: Vec<String> = Vec::with_capacity(topology.servers.len());
    for server in &topology.servers {
        let label = dns_label(&server.name)
            .ok_or_else(|| DeployError::NoLabel { name: server.name.clone() })?;
        if let Some(i) = labels.iter().position(|l| *l == label) {
            return Err(DeployError::Clash {
                first: topology.servers[i].name.clone(),
                second: server.name.clone(),
                label,
            });
        }
        labels.push(label);
    }
    Ok(labels)
}

/// The topology the containers mount: every server binds `0.0.0.0` and is dialled by its
/// service name, its admin endpoint at that name's [`ADMIN_PORT`]; names, ports, links and
/// positions as given. Fails as [`labels`] does, or on
/// a server with port 0 or a port another server has.
pub fn deployed_topology(topology: &Topology) -> Result<Topology, DeployError> {
    let labels = labels(topology)?;
    for (i, server) in topology.servers.iter().enumerate() {
        if server.port == 0 {
            return Err(DeployError::NoPort { name: server.name.clone() });
        }
        if let Some(first) = topology.servers[..i].iter().find(|s| s.port == server.port) {
            return Err(DeployError::SharedPort {
                first: first.name.clone(),
                second: server.name.clone(),
                port: server.port,
            });
        }
    }
    let mut deployed = topology.clone();
    for (server, label) in deployed.servers.iter_mut().zip(labels) {
        "0.0.0.0".clone_into(&mut server.host);
        server.admin = Some(format!("{label}:{ADMIN_PORT}"));
        server.dial = label;
    }
    Ok(deployed)
}

/// A compose file: one service per server (named by its DNS label) running
/// `herdctl serve NAME` on the topology of [`deployed_topology`], which the file carries as a
/// config mounted at [`TOPOLOGY_PATH`], each server's port published on the host.
pub fn compose(topology: &Topology) -> Result<String, DeployError> {
    let deployed = deployed_topology(topology)?;
    let mut services = serde_json::Map::new();
    for server in &deployed.servers {
        let port = format!("{0}:{0}", server.port);
        services.insert(
            server.dial.clone(),
            json!({
                "image": IMAGE,
                "command": serve_args(&server.name),
                "configs": [{ "source": "topology", "target": TOPOLOGY_PATH }],
                "ports": [port],
                "restart": "unless-stopped",
            }),
        );
    }
    let file = json!({
        "services": services,
        "configs": { "topology": { "content": deployed.to_toml() } },
    });
    Ok(format!(
        "# A herd of {} servers, a service each: docker compose -f - up\n\
         # (build the image first: docker build -t {IMAGE} -f assets/deploy/Containerfile .)\n{}",
        deployed.servers.len(),
        serde_norway::to_string(&file)?
    ))
}

/// Kubernetes manifests: the topology of [`deployed_topology`] as a `ConfigMap`, and for each
/// server a Deployment of one pod running `herdctl serve NAME --admin 0.0.0.0:9100` (with
/// the topology mounted at [`TOPOLOGY_PATH`] and Prometheus scrape annotations on
/// [`ADMIN_PORT`]) and a Service of the same DNS label.
pub fn kubernetes(topology: &Topology) -> Result<String, DeployError> {
    let deployed = deployed_topology(topology)?;
    let mut documents = vec![json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": { "name": CONFIG_MAP, "labels": part_of() },
        "data": { TOPOLOGY_FILE: deployed.to_toml() },
    })];
    for server in &deployed.servers {
        let label = &server.dial;
        let selector = json!({ "app.kubernetes.io/name": "herdctl", "herdctl/server": label });
        let mut labels = selector.clone();
        labels["app.kubernetes.io/part-of"] = json!("herdctl");
        documents.push(json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": { "name": label, "labels": labels },
            "spec": {
                "replicas": 1,
                "selector": { "matchLabels": selector },
                "template": {
                    "metadata": {
                        "labels": labels,
                        "annotations": {
                            "prometheus.io/scrape": "true",
                            "prometheus.io/port": ADMIN_PORT.to_string(),
                        },
                    },
                    "spec": {
                        "securityContext": { "runAsNonRoot": true },
                        "containers": [{
                            "name": "herdctl",
                            "image": IMAGE,
                            "imagePullPolicy": "IfNotPresent",
                            "args": serve_args(&server.name),
                            "ports": [
                                { "name": "herd", "containerPort": server.port },
                                { "name": "admin", "containerPort": ADMIN_PORT },
                            ],
                            "volumeMounts": [{
                                "name": "topology",
                                "mountPath": TOPOLOGY_DIR,
                                "readOnly": true,
                            }],
                            "securityContext": { "allowPrivilegeEscalation": false },
                        }],
                        "volumes": [{
                            "name": "topology",
                            "configMap": { "name": CONFIG_MAP },
                        }],
                    },
                },
            },
        }));
        documents.push(json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": { "name": label, "labels": labels },
            "spec": {
                "selector": selector,
                "ports": [
                    { "name": "herd", "port": server.port, "targetPort": "herd" },
                    { "name": "admin", "port": ADMIN_PORT, "targetPort": "admin" },
                ],
            },
        }));
    }
    let mut out = format!(
        "# A herd of {} servers: a ConfigMap, and a Deployment and a Service per server.\n\
         # kubectl apply -f -\n",
        deployed.servers.len()
    );
    for document in &documents {
        out.push_str("---\n");
        out.push_str(&serde_norway::to_string(document)?);
    }
    Ok(out)
}

/// The labels every Kubernetes object of the herd carries.
fn part_of() -> Value {
    json!({ "app.kubernetes.io/part-of": "herdctl" })
}

/// `herdctl serve NAME` on the mounted topology (the image's entry point is `herdctl`), with
/// the admin endpoint on all interfaces. A name that starts with `-` comes last, after `--`,
/// so that it is not read as a flag.
fn serve_args(name: &str) -> Vec<String> {
    let mut args = vec!["serve".to_owned()];
    let flag_like = name.starts_with('-');
    if !flag_like {
        args.push(name.to_owned());
    }
    args.extend(["--topology".to_owned(), TOPOLOGY_PATH.to_owned()]);
    // All interfaces, so that Prometheus and an attached console reach it: said explicitly.
    args.extend([
        "--admin".to_owned(),
        format!("0.0.0.0:{ADMIN_PORT}"),
        "--admin-public".to_owned(),
    ]);
    if flag_like {
        args.extend(["--".to_owned(), name.to_owned()]);
    }
    args
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;
    use crate::config::DEFAULT_BASE_PORT;

    #[test]
    fn names_map_to_dns_labels() {
        for (name, label) in [
            ("Bailey", "bailey"),
            ("S1", "s1"),
            ("a.b_c-D", "a-b-c-d"),
            ("-dash", "dash"),
            ("x_", "x"),
            ("__a__b__", "a--b"),
            ("1st", "1st"),
        ] {
            assert_eq!(dns_label(name).as_deref(), Some(label), "{name}");
        }
        for name in ["", "-", "_._", "---"] {
            assert_eq!(dns_label(name), None, "{name}");
        }
    }

    #[test]
    fn labels_are_at_most_63_characters_and_end_alphanumeric() {
        let long = "A".repeat(64);
        assert_eq!(dns_label(&long), Some("a".repeat(63)));
        let exact = "b".repeat(63);
        assert_eq!(dns_label(&exact).as_deref(), Some(exact.as_str()));
        // Cut at 63, then the `-` it would end with is dropped.
        let dashed = format!("{}_{}", "c".repeat(62), "d".repeat(10));
        assert_eq!(dns_label(&dashed), Some("c".repeat(62)));
        // Leading dashes do not count against the limit.
        let led = format!("__{}", "e".repeat(63));
        assert_eq!(dns_label(&led), Some("e".repeat(63)));
        for name in [long.as_str(), &dashed, &led, "x.y", "-a-"] {
            let label = dns_label(name).unwrap();
            assert!(label.len() <= MAX_LABEL);
            assert!(
                label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            );
            assert!(!label.starts_with('-') && !label.ends_with('-'), "{label}");
        }
    }

    fn herd(names: &[&str]) -> Topology {
        let mut text = String::new();
        for (i, name) in names.iter().enumerate() {
            writeln!(text, "[[server]]\nname = \"{name}\"\nport = {}", 5000 + i).unwrap();
        }
        Topology::from_toml(&text, "herd.toml").unwrap()
    }

    #[test]
    fn a_clash_after_mapping_names_both_servers() {
        let message = labels(&herd(&["Other", "A_b", "a-b"])).unwrap_err().to_string();
        assert!(message.contains("\"A_b\"") && message.contains("\"a-b\""), "{message}");
        assert!(message.contains("\"a-b\"") && message.contains("service name"), "{message}");
        let long = format!("{}x", "n".repeat(63));
        let message = labels(&herd(&[&"n".repeat(63), &long])).unwrap_err().to_string();
        assert!(message.contains(&long), "{message}");
        assert!(compose(&herd(&["A_b", "a-b"])).is_err());
        assert!(kubernetes(&herd(&["A.b", "a_B"])).is_err());
    }

    #[test]
    fn deployed_servers_bind_everywhere_and_are_dialled_by_label() {
        let topology = Topology::load("cs131", DEFAULT_BASE_PORT).unwrap();
        let deployed = deployed_topology(&topology).unwrap();
        for (given, server) in topology.servers.iter().zip(&deployed.servers) {
            assert_eq!(server.host, "0.0.0.0");
            assert_eq!(server.dial, given.name.to_lowercase());
            assert_eq!((&server.name, server.port), (&given.name, given.port));
        }
        assert_eq!(deployed.links(), topology.links());
        let toml = deployed.to_toml();
        assert!(
            toml.contains(
                "host = \"0.0.0.0\"\ndial = \"bailey\"\nadmin = \"bailey:9100\"\nport = 12401"
            ),
            "{toml}"
        );
    }

    #[test]
    fn a_free_port_or_a_shared_one_cannot_be_deployed() {
        let topology = Topology::load("ring:3", 0).unwrap();
        let message = compose(&topology).unwrap_err().to_string();
        assert!(message.contains("\"S1\"") && message.contains("port 0"), "{message}");
        let text = "[[server]]\nname = \"A\"\nport = 7\n\
                    [[server]]\nname = \"B\"\nport = 8\n\
                    [[server]]\nname = \"C\"\nhost = \"127.0.0.2\"\nport = 7\n";
        let topology = Topology::from_toml(text, "f").unwrap();
        let message = kubernetes(&topology).unwrap_err().to_string();
        assert!(message.contains("\"A\" and \"C\" both use port 7"), "{message}");
    }

    #[test]
    fn a_name_that_looks_like_a_flag_comes_after_a_double_dash() {
        assert_eq!(serve_args("Bailey")[..4], ["serve", "Bailey", "--topology", TOPOLOGY_PATH]);
        assert_eq!(
            serve_args("-dash"),
            [
                "serve",
                "--topology",
                TOPOLOGY_PATH,
                "--admin",
                "0.0.0.0:9100",
                "--admin-public",
                "--",
                "-dash"
            ]
        );
        // Both forms parse as `serve`.
        let args = std::iter::once("herdctl".to_owned()).chain(serve_args("-dash"));
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(args);
        let command = cli.unwrap().command;
        assert!(
            matches!(command, Some(crate::cli::Command::Serve { ref name, .. }) if name == "-dash"),
            "{command:?}"
        );
    }
}
