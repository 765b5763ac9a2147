//! Targets as data: the [`Module`] enum, its static dependency table and the
//! topological start order of any target list. `node` calls one init function
//! per module in that order and stops them in reverse.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Module {
    Server,
    Overrides,
    MemberlistKv,
    Ring,
    Store,
    Ingester,
    Distributor,
    Querier,
    QueryFrontend,
    QueryScheduler,
    IndexGateway,
    Ruler,
    Compactor,
    All,
    Read,
    Write,
    Backend,
}

use Module::*;

/// Every module with its Loki name, dependencies and whether it is a target group.
const TABLE: &[(Module, &str, &[Module])] = &[
    (Server, "server", &[]),
    (Overrides, "overrides", &[]),
    (MemberlistKv, "memberlist-kv", &[Server]),
    (Ring, "ring", &[Server, MemberlistKv]),
    (Store, "store", &[Overrides]),
    (Ingester, "ingester", &[Server, Overrides, Store, MemberlistKv]),
    (Distributor, "distributor", &[Server, Overrides, Ring]),
    (Querier, "querier", &[Server, Overrides, Store, Ring]),
    (QueryFrontend, "query-frontend", &[Server, Overrides]),
    (QueryScheduler, "query-scheduler", &[Server, Overrides]),
    (IndexGateway, "index-gateway", &[Server, Overrides, Store]),
    (Ruler, "ruler", &[Server, Overrides, Store, Ring]),
    (Compactor, "compactor", &[Server, Overrides, MemberlistKv]),
    (All, "all", &[QueryScheduler, QueryFrontend, Querier, Ingester, Distributor, Ruler, Compactor]),
    (Read, "read", &[QueryFrontend, Querier]),
    (Write, "write", &[Ingester, Distributor]),
    (Backend, "backend", &[QueryScheduler, Ruler, Compactor, IndexGateway]),
];

impl Module {
    pub fn name(self) -> &'static str {
        TABLE.iter().find(|(m, _, _)| *m == self).map(|(_, n, _)| *n).unwrap_or("unknown")
    }

    pub fn deps(self) -> &'static [Module] {
        TABLE.iter().find(|(m, _, _)| *m == self).map(|(_, _, d)| *d).unwrap_or(&[])
    }

    /// Groups (`all`, `read`, ...) only pull in their dependencies.
    pub fn is_group(self) -> bool {
        matches!(self, All | Read | Write | Backend)
    }

    pub fn parse(name: &str) -> Result<Module, String> {
        TABLE.iter().find(|(_, n, _)| *n == name.trim()).map(|(m, _, _)| *m).ok_or_else(|| {
            let targets: Vec<&str> = TABLE
                .iter()
                .filter(|(m, _, _)| !matches!(m, Server | Overrides | MemberlistKv | Ring | Store))
                .map(|(_, n, _)| *n)
                .collect();
            format!("unrecognised module name: {name} (targets: {})", targets.join(", "))
        })
    }
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Modules that use an ingester running in the same process when there is one,
/// so it must start before them (a soft dependency: only when both are selected).
const USES_LOCAL_INGESTER: &[Module] = &[Distributor, Querier, Ruler];

/// Every module `targets` pull in, groups included.
fn closure(targets: &[Module]) -> Vec<Module> {
    let mut out: Vec<Module> = Vec::new();
    let mut stack: Vec<Module> = targets.to_vec();
    while let Some(m) = stack.pop() {
        if !out.contains(&m) {
            out.push(m);
            stack.extend_from_slice(m.deps());
        }
    }
    out
}

/// Modules to start for `targets`, dependencies first, groups left out.
pub fn start_order(targets: &[Module]) -> Vec<Module> {
    let local_ingester = closure(targets).contains(&Ingester);
    let deps = |m: Module| -> Vec<Module> {
        let mut d = m.deps().to_vec();
        if local_ingester && USES_LOCAL_INGESTER.contains(&m) {
            d.push(Ingester);
        }
        d
    };
    fn visit(m: Module, deps: &dyn Fn(Module) -> Vec<Module>, out: &mut Vec<Module>, seen: &mut Vec<Module>) {
        if seen.contains(&m) {
            return;
        }
        seen.push(m);
        for d in deps(m) {
            visit(d, deps, out, seen);
        }
        if !m.is_group() {
            out.push(m);
        }
    }
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for t in targets {
        visit(*t, &deps, &mut out, &mut seen);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(t: &str) -> String {
        let targets: Vec<Module> = t.split(',').map(|n| Module::parse(n).unwrap()).collect();
        start_order(&targets).iter().map(|m| m.name()).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn start_order_of_every_target() {
        let cases = [
            ("all", "server overrides query-scheduler query-frontend store memberlist-kv ring ingester querier distributor ruler compactor"),
            ("distributor", "server overrides memberlist-kv ring distributor"),
            ("ingester", "server overrides store memberlist-kv ingester"),
            ("querier", "server overrides store memberlist-kv ring querier"),
            ("query-frontend", "server overrides query-frontend"),
            ("query-scheduler", "server overrides query-scheduler"),
            ("index-gateway", "server overrides store index-gateway"),
            ("ruler", "server overrides store memberlist-kv ring ruler"),
            ("compactor", "server overrides memberlist-kv compactor"),
            ("read", "server overrides query-frontend store memberlist-kv ring querier"),
            ("write", "server overrides store memberlist-kv ingester ring distributor"),
            ("distributor,ingester", "server overrides memberlist-kv ring store ingester distributor"),
            ("backend", "server overrides query-scheduler store memberlist-kv ring ruler compactor index-gateway"),
            ("querier,ingester", "server overrides store memberlist-kv ring ingester querier"),
        ];
        for (t, want) in cases {
            assert_eq!(order(t), want, "target {t}");
        }
    }

    #[test]
    fn every_dependency_starts_first() {
        for (m, _, _) in TABLE {
            let o = start_order(&[*m]);
            for (i, x) in o.iter().enumerate() {
                for d in x.deps() {
                    if !d.is_group() {
                        assert!(o[..i].contains(d), "{d} must start before {x}");
                    }
                }
            }
        }
        assert!(Module::parse("ingestor").unwrap_err().contains("unrecognised module name"));
    }
}
