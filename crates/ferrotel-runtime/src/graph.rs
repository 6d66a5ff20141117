//! Checks a config against the registry and orders its pipelines.
//!
//! Everything a user can get wrong in the `service` section is reported here, all at once, each
//! with its config path: undefined or unknown components, signals a component does not
//! support, connectors used on one side only, cycles through connectors, pipelines without
//! receivers or exporters, two components on one port. Unused components are warnings.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ferrotel_pdata::Signal;

use crate::component::Kind;
use crate::config::service::ComponentRef;
use crate::config::{ComponentId, Config, ConfigError, ConfigErrors, PathSegment, PipelineId};
use crate::registry::Registry;

/// The result of validation: a pipeline order for building, and warnings.
#[derive(Debug, Default)]
pub struct Plan {
    /// Pipelines in build order: every pipeline comes after the pipelines its connectors feed.
    pub order: Vec<PipelineId>,
    pub warnings: Vec<ConfigError>,
}

/// One line per pipeline, `traces: [otlp] -> [batch] -> [debug, forward(connector)]`, in
/// build order (downstream pipelines first): what `ferrotel validate` prints.
pub fn describe(config: &Config, plan: &Plan) -> Vec<String> {
    plan.order
        .iter()
        .filter_map(|pid| config.service.pipelines.iter().find(|(id, _)| id == pid))
        .map(|(pid, p)| {
            let list = |refs: &[ComponentRef]| {
                refs.iter()
                    .map(|r| {
                        if defined(config, Kind::Connector, &r.id) {
                            format!("{}(connector)", r.id)
                        } else {
                            r.id.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            format!(
                "{pid}: [{}] -> [{}] -> [{}]",
                list(&p.receivers),
                list(&p.processors),
                list(&p.exporters)
            )
        })
        .collect()
}

fn section(config: &Config, kind: Kind) -> &[(ComponentId, crate::config::Node)] {
    match kind {
        Kind::Receiver => &config.receivers,
        Kind::Processor => &config.processors,
        Kind::Exporter => &config.exporters,
        Kind::Connector => &config.connectors,
        Kind::Extension => &config.extensions,
    }
}

fn defined(config: &Config, kind: Kind, id: &ComponentId) -> bool {
    section(config, kind).iter().any(|(i, _)| i == id)
}

fn ref_err(path: String, r: &ComponentRef, message: String) -> ConfigError {
    ConfigError::new(path, message).with_location(r.location.clone())
}

/// Validates `config` against `registry`. Returns all errors found.
pub fn validate(config: &Config, registry: &Registry) -> Result<Plan, ConfigErrors> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();

    // 1. Every defined component has a known type and a valid config.
    for kind in [
        Kind::Receiver,
        Kind::Processor,
        Kind::Exporter,
        Kind::Connector,
        Kind::Extension,
    ] {
        for (id, node) in section(config, kind) {
            let path = format!("{}::{id}", kind.section());
            match registry.check_config(kind, id.type_name(), node) {
                None => {
                    let known: Vec<&str> =
                        registry.list(kind).iter().map(|i| i.type_name).collect();
                    errors.push(
                        ConfigError::new(
                            path,
                            format!(
                                "unknown {kind} type \"{}\" (known: {})",
                                id.type_name(),
                                known.join(", ")
                            ),
                        )
                        .with_location(config.location_of(&[
                            PathSegment::Key(kind.section().into()),
                            PathSegment::Key(id.to_string()),
                        ])),
                    );
                }
                Some(Err(e)) => errors.push(e.under(&path)),
                Some(Ok(())) => {}
            }
        }
    }

    // 2. service::extensions refer to defined extensions.
    for (i, r) in config.service.extensions.iter().enumerate() {
        if !defined(config, Kind::Extension, &r.id) {
            errors.push(ref_err(
                format!("service::extensions[{i}]"),
                r,
                format!("extension \"{}\" is not defined", r.id),
            ));
        }
    }

    // 3. Pipelines.
    let mut used: BTreeSet<(Kind, ComponentId)> = BTreeSet::new();
    // connector id → (signals it is exported to from, signals it receives into)
    let mut connector_as_exporter: BTreeMap<ComponentId, Vec<(PipelineId, Signal)>> =
        BTreeMap::new();
    let mut connector_as_receiver: BTreeMap<ComponentId, Vec<(PipelineId, Signal)>> =
        BTreeMap::new();
    for (pid, p) in &config.service.pipelines {
        let base = format!("service::pipelines::{pid}");
        let signal = pid.signal;
        if p.receivers.is_empty() {
            errors.push(
                ConfigError::new(base.clone(), "the pipeline must have at least one receiver")
                    .with_location(p.location.clone()),
            );
        }
        if p.exporters.is_empty() {
            errors.push(
                ConfigError::new(base.clone(), "the pipeline must have at least one exporter")
                    .with_location(p.location.clone()),
            );
        }
        for (list, kind, refs) in [
            ("receivers", Kind::Receiver, &p.receivers),
            ("processors", Kind::Processor, &p.processors),
            ("exporters", Kind::Exporter, &p.exporters),
        ] {
            let mut seen = BTreeSet::new();
            for (i, r) in refs.iter().enumerate() {
                let path = format!("{base}::{list}[{i}]");
                if !seen.insert(&r.id) {
                    errors.push(ref_err(
                        path,
                        r,
                        format!("{kind} \"{}\" is listed twice", r.id),
                    ));
                    continue;
                }
                let is_connector =
                    kind != Kind::Processor && defined(config, Kind::Connector, &r.id);
                if is_connector {
                    used.insert((Kind::Connector, r.id.clone()));
                    let map = if kind == Kind::Exporter {
                        &mut connector_as_exporter
                    } else {
                        &mut connector_as_receiver
                    };
                    map.entry(r.id.clone())
                        .or_default()
                        .push((pid.clone(), signal));
                    continue;
                }
                if !defined(config, kind, &r.id) {
                    errors.push(ref_err(
                        path,
                        r,
                        format!("{kind} \"{}\" is not defined", r.id),
                    ));
                    continue;
                }
                used.insert((kind, r.id.clone()));
                if let Some(info) = registry.info(kind, r.id.type_name())
                    && !info.supports(signal)
                {
                    let supported: Vec<&str> =
                        info.signals.iter().map(|(s, _)| s.as_str()).collect();
                    errors.push(ref_err(
                        path,
                        r,
                        format!(
                            "{kind} \"{}\" does not support {signal} (it supports: {})",
                            r.id,
                            supported.join(", ")
                        ),
                    ));
                }
            }
        }
    }

    // 4. Connectors: used on both sides, with supported signal pairs.
    for (id, _) in &config.connectors {
        let from = connector_as_exporter
            .get(id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let to = connector_as_receiver
            .get(id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let path = format!("connectors::{id}");
        let loc = config.location_of(&[
            PathSegment::Key("connectors".into()),
            PathSegment::Key(id.to_string()),
        ]);
        match (from.is_empty(), to.is_empty()) {
            (true, true) => continue, // unused: warned below
            (false, true) => errors.push(
                ConfigError::new(
                    path,
                    "connector is used as an exporter but no pipeline uses it as a receiver",
                )
                .with_location(loc),
            ),
            (true, false) => errors.push(
                ConfigError::new(
                    path,
                    "connector is used as a receiver but no pipeline uses it as an exporter",
                )
                .with_location(loc),
            ),
            (false, false) => {
                if let Some(info) = registry.info(Kind::Connector, id.type_name()) {
                    for (fp, fs) in from {
                        if !to.iter().any(|(_, ts)| info.connects.contains(&(*fs, *ts))) {
                            let targets: BTreeSet<&str> =
                                to.iter().map(|(_, s)| s.as_str()).collect();
                            errors.push(
                                ConfigError::new(
                                    format!("service::pipelines::{fp}"),
                                    format!(
                                        "connector \"{id}\" cannot connect {fs} to {} (it supports: {})",
                                        targets.into_iter().collect::<Vec<_>>().join(", "),
                                        info.connects.iter().map(|(a, b)| format!("{a}->{b}")).collect::<Vec<_>>().join(", ")
                                    ),
                                )
                                .with_location(loc.clone()),
                            );
                        }
                    }
                }
            }
        }
    }

    // 5. Unused components are warnings, as in the Go Collector.
    for kind in [
        Kind::Receiver,
        Kind::Processor,
        Kind::Exporter,
        Kind::Connector,
    ] {
        for (id, _) in section(config, kind) {
            if !used.contains(&(kind, id.clone())) {
                warnings.push(
                    ConfigError::new(
                        format!("{}::{id}", kind.section()),
                        format!("{kind} is defined but not used in any pipeline"),
                    )
                    .with_location(config.location_of(&[
                        PathSegment::Key(kind.section().into()),
                        PathSegment::Key(id.to_string()),
                    ])),
                );
            }
        }
    }
    for (id, _) in &config.extensions {
        if !config.service.extensions.iter().any(|r| &r.id == id) {
            warnings.push(ConfigError::new(
                format!("extensions::{id}"),
                "extension is defined but not enabled in service::extensions",
            ));
        }
    }

    // 6. Port conflicts among the components that will run, and the telemetry endpoint.
    let mut ports: HashMap<String, String> = HashMap::new();
    for addr in &config.service.telemetry.metrics.pull {
        ports.insert(addr.to_string(), "service::telemetry::metrics".into());
    }
    let running = used.iter().cloned().chain(
        config
            .service
            .extensions
            .iter()
            .map(|r| (Kind::Extension, r.id.clone())),
    );
    for (kind, id) in running {
        let Some(node) = section(config, kind)
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, n)| n)
        else {
            continue;
        };
        let Some(factory) = registry.factory(kind, id.type_name()) else {
            continue;
        };
        for addr in factory.listen_addresses(node) {
            let normalized = crate::config::parse_endpoint(&addr)
                .map(|a| a.to_string())
                .unwrap_or(addr.clone());
            let owner = format!("{}::{id}", kind.section());
            if let Some(prev) = ports.insert(normalized.clone(), owner.clone()) {
                errors.push(ConfigError::new(
                    owner,
                    format!("port conflict: {normalized} is also used by {prev}"),
                ));
            }
        }
    }

    // 7. Order pipelines; a cycle through connectors is an error.
    let order = match order_pipelines(config, &connector_as_exporter, &connector_as_receiver) {
        Ok(o) => o,
        Err(cycle) => {
            errors.push(ConfigError::new(
                "service::pipelines",
                format!("cycle through connectors: {cycle}"),
            ));
            Vec::new()
        }
    };

    if errors.is_empty() {
        Ok(Plan { order, warnings })
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Orders pipelines so that a pipeline comes after every pipeline it feeds through a connector
/// (downstream first, as the graph is built). Returns the cycle on failure.
fn order_pipelines(
    config: &Config,
    as_exporter: &BTreeMap<ComponentId, Vec<(PipelineId, Signal)>>,
    as_receiver: &BTreeMap<ComponentId, Vec<(PipelineId, Signal)>>,
) -> Result<Vec<PipelineId>, String> {
    // edges: upstream pipeline → downstream pipelines
    let mut edges: BTreeMap<&PipelineId, Vec<&PipelineId>> = BTreeMap::new();
    for (conn, ups) in as_exporter {
        for (up, _) in ups {
            for (down, _) in as_receiver.get(conn).map(Vec::as_slice).unwrap_or_default() {
                edges.entry(up).or_default().push(down);
            }
        }
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit<'a>(
        p: &'a PipelineId,
        edges: &BTreeMap<&'a PipelineId, Vec<&'a PipelineId>>,
        marks: &mut HashMap<&'a PipelineId, Mark>,
        stack: &mut Vec<&'a PipelineId>,
        out: &mut Vec<PipelineId>,
    ) -> Result<(), String> {
        match marks.get(p) {
            Some(Mark::Done) => return Ok(()),
            Some(Mark::Visiting) => {
                let start = stack.iter().position(|s| *s == p).unwrap_or(0);
                let mut names: Vec<String> = stack[start..].iter().map(|s| s.to_string()).collect();
                names.push(p.to_string());
                return Err(names.join(" -> "));
            }
            None => {}
        }
        marks.insert(p, Mark::Visiting);
        stack.push(p);
        for d in edges.get(p).map(Vec::as_slice).unwrap_or_default() {
            visit(d, edges, marks, stack, out)?;
        }
        stack.pop();
        marks.insert(p, Mark::Done);
        out.push(p.clone());
        Ok(())
    }
    let mut marks = HashMap::new();
    let mut out = Vec::new();
    for (pid, _) in &config.service.pipelines {
        visit(pid, &edges, &mut marks, &mut Vec::new(), &mut out)?;
    }
    Ok(out)
}
