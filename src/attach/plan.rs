//! Which admin endpoint an attached console reads for each server: the topology's `admin`
//! key, or `--admin-base-port` counted from the server's `dial` host. Servers that name the
//! same endpoint run in one process and share one stream (pure).

use crate::config::Topology;
use crate::herd::ServerId;

/// One admin endpoint and the servers its process runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `HOST:PORT`.
    pub addr: String,
    pub servers: Vec<ServerId>,
}

impl Endpoint {
    /// `http://HOST:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Every endpoint, and each server's (an index into `endpoints`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub endpoints: Vec<Endpoint>,
    pub owner: Vec<usize>,
}

/// Where to read each server of `topology`: its `admin` key, else `base_port` plus its index
/// on its `dial` host. An error names the servers that have neither.
pub fn plan(topology: &Topology, base_port: Option<u16>) -> Result<Plan, String> {
    let mut endpoints: Vec<Endpoint> = Vec::new();
    let mut owner = Vec::with_capacity(topology.servers.len());
    let mut missing = Vec::new();
    for (id, server) in topology.servers.iter().enumerate() {
        let addr = match (&server.admin, base_port) {
            (Some(admin), _) => admin.clone(),
            (None, Some(base)) => {
                let Some(port) = u16::try_from(id).ok().and_then(|i| base.checked_add(i)) else {
                    return Err(format!(
                        "--admin-base-port {base}: server {} would need a port past 65535",
                        server.name
                    ));
                };
                if server.dial.contains(':') {
                    format!("[{}]:{port}", server.dial)
                } else {
                    format!("{}:{port}", server.dial)
                }
            }
            (None, None) => {
                missing.push(server.name.as_str());
                continue;
            }
        };
        let index = endpoints.iter().position(|e| e.addr == addr).unwrap_or_else(|| {
            endpoints.push(Endpoint { addr, servers: Vec::new() });
            endpoints.len() - 1
        });
        endpoints[index].servers.push(id);
        owner.push(index);
    }
    if !missing.is_empty() {
        return Err(format!(
            "no admin endpoint for {}: give each server `admin = \"HOST:PORT\"` in the topology \
             (where `serve NAME --admin` listens), or --admin-base-port",
            missing.join(", ")
        ));
    }
    Ok(Plan { endpoints, owner })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology(text: &str) -> Topology {
        Topology::from_toml(text, "t.toml").unwrap()
    }

    #[test]
    fn servers_naming_one_endpoint_share_it() {
        let t = topology(
            "[[server]]\nname=\"A\"\nport=1\nadmin=\"h1:9100\"\nneighbours=[\"B\"]\n\
             [[server]]\nname=\"B\"\nport=2\nadmin=\"h2:9100\"\n\
             [[server]]\nname=\"C\"\nport=3\nadmin=\"h1:9100\"\n",
        );
        let plan = plan(&t, None).unwrap();
        assert_eq!(plan.owner, vec![0, 1, 0]);
        assert_eq!(plan.endpoints[0], Endpoint { addr: "h1:9100".into(), servers: vec![0, 2] });
        assert_eq!(plan.endpoints[1].base_url(), "http://h2:9100");
    }

    #[test]
    fn a_base_port_counts_from_each_dial_host() {
        let t = topology(
            "[[server]]\nname=\"A\"\nport=1\ndial=\"::1\"\n[[server]]\nname=\"B\"\nport=2\n\
             admin=\"x:7\"\n[[server]]\nname=\"C\"\nport=3\n",
        );
        let plan = plan(&t, Some(9100)).unwrap();
        let addrs: Vec<&str> = plan.endpoints.iter().map(|e| e.addr.as_str()).collect();
        assert_eq!(addrs, ["[::1]:9100", "x:7", "127.0.0.1:9102"]);
    }

    #[test]
    fn servers_without_an_endpoint_are_named() {
        let t = topology("[[server]]\nname=\"A\"\nport=1\n[[server]]\nname=\"B\"\nport=2\n");
        let err = plan(&t, None).unwrap_err();
        assert!(err.starts_with("no admin endpoint for A, B:"), "{err}");
        assert!(plan(&t, Some(65535)).unwrap_err().contains("past 65535"));
    }
}
