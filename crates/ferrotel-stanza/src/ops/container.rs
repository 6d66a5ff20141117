//! container: docker (JSON), cri-o and containerd (CRI text) logs; format detection; CRI
//! partial lines (`P`) joined with the final (`F`) one, keeping the first part's fields and
//! time; `log.iostream`; k8s metadata (namespace, pod, uid, container, restart count) from
//! the `log.file.path` attribute into the resource. Cases in tests/parsers.rs are the Go
//! operator's own.

use std::time::Instant;

use serde::Deserialize;

use super::parsers::RegexParse;
use super::recombine::{Recombiner, byte_size};
use super::{Ctx, Failure, Operator, Out, ParserCore};
use crate::field::Field;
use crate::time::{TimeConfig, TimeParser};
use crate::{BuildError, Entry, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContainerConfig {
    format: Option<String>,
    add_metadata_from_filepath: Option<bool>,
    max_log_size: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    Docker,
    Crio,
    Containerd,
}

#[derive(Debug)]
struct Container {
    core: ParserCore,
    format: Option<Format>,
    metadata: bool,
    crio: RegexParse,
    containerd: RegexParse,
    path: RegexParse,
    /// Docker and containerd write UTC with `Z`; cri-o an offset.
    utc_time: TimeParser,
    crio_time: TimeParser,
    recombine: Recombiner,
    scratch: Vec<Entry>,
    json: crate::json::JsonParser,
}

const CRIO: &str = r"^(?P<time>[^ Z]+) (?P<stream>stdout|stderr) (?P<logtag>[^ ]*) ?(?P<log>.*)$";
const CONTAINERD: &str =
    r"^(?P<time>[^ ^Z]+Z) (?P<stream>stdout|stderr) (?P<logtag>[^ ]*) ?(?P<log>.*)$";
const LOG_PATH: &str = r"^.*(\/|\\)(?P<namespace>[^_]+)_(?P<pod_name>[^_]+)_(?P<uid>[a-f0-9\-]+)(\/|\\)(?P<container_name>[^\._]+)(\/|\\)(?P<restart_count>\d+)\.log$";

const K8S: [(&str, &str); 5] = [
    ("container_name", "k8s.container.name"),
    ("namespace", "k8s.namespace.name"),
    ("pod_name", "k8s.pod.name"),
    ("restart_count", "k8s.container.restart_count"),
    ("uid", "k8s.pod.uid"),
];

impl Container {
    fn detect(&self, e: &Entry) -> Result<Format, String> {
        let Some(v) = self.core.parse_from.get_ref(e) else {
            return Err("entry cannot be parsed as container logs".into());
        };
        let Value::Str(s) = v else {
            return Err(format!(
                "type '{}' cannot be parsed as container logs",
                crate::value_type(v)
            ));
        };
        if s.starts_with('{') {
            Ok(Format::Docker)
        } else if self.crio.matches(s).is_ok() {
            Ok(Format::Crio)
        } else if self.containerd.matches(s).is_ok() {
            Ok(Format::Containerd)
        } else {
            Err(format!("entry cannot be parsed as container logs: {s}"))
        }
    }

    /// Time from `attributes.time`, `log` to the body, `stream` to `log.iostream`,
    /// k8s metadata from the path.
    fn mappings(&self, e: &mut Entry, time: &TimeParser) -> Result<(), String> {
        // The `time` attribute stays: Go removes it only behind the alpha feature gate
        // `filelog.container.removeOriginalTimeField`.
        time.parse(e)
            .map_err(|m| format!("failed to parse time: {m}"))?;
        let log = e
            .attributes
            .remove("log")
            .ok_or("move: field log does not exist")?;
        e.body = log;
        let stream = e
            .attributes
            .remove("stream")
            .ok_or("move: field stream does not exist")?;
        e.attributes.insert("log.iostream".into(), stream);
        if self.metadata {
            let path = match e.attributes.get("log.file.path") {
                Some(Value::Str(p)) => p.clone(),
                Some(v) => {
                    return Err(format!(
                        "type '{}' cannot be parsed as log path field",
                        crate::value_type(v)
                    ));
                }
                None => return Err("type '<nil>' cannot be parsed as log path field".into()),
            };
            let m = self
                .path
                .matches(&path)
                .map_err(|_| "failed to detect a valid log path".to_string())?;
            for (from, to) in K8S {
                if let Some(v) = m.get(from) {
                    e.resource.insert(to.into(), v.clone());
                }
            }
        }
        Ok(())
    }
}

impl Operator for Container {
    fn process(&mut self, e: Entry, out: &mut Out) -> Result<(), Failure> {
        let format = match self.format {
            Some(f) => f,
            None => match self.detect(&e) {
                Ok(f) => f,
                Err(m) => {
                    return Err((
                        e,
                        format!("failed to detect a valid container log format: {m}"),
                    ));
                }
            },
        };
        match format {
            Format::Docker => {
                let json = &mut self.json;
                let mut e = self.core.run(e, |v| {
                    let Value::Str(s) = v else {
                        return Err(format!(
                            "type '{}' cannot be parsed as docker container logs",
                            crate::value_type(v)
                        ));
                    };
                    json.parse(s)
                })?;
                if let Err(m) = self.mappings(&mut e, &self.utc_time) {
                    return Err((e, m));
                }
                out.push((0, e));
            }
            Format::Crio | Format::Containerd => {
                let re = if format == Format::Crio {
                    &self.crio
                } else {
                    &self.containerd
                };
                let mut e = self.core.run(e, |v| match v {
                    Value::Str(s) => re.matches(s).map(Value::Map),
                    o => Err(format!(
                        "type '{}' cannot be parsed as cri logs",
                        crate::value_type(o)
                    )),
                })?;
                let time = if format == Format::Crio {
                    &self.crio_time
                } else {
                    &self.utc_time
                };
                if let Err(m) = self.mappings(&mut e, time) {
                    // As Go: a CRI entry whose mappings fail is reported, not passed on.
                    tracing::warn!(error = %m, "container: failed to handle attribute mappings");
                    return Ok(());
                }
                let last = matches!(e.attributes.get("logtag"), Some(Value::Str(t)) if t == "F");
                self.recombine.add(e, last, &mut self.scratch);
                out.extend(self.scratch.drain(..).map(|e| (0, e)));
            }
        }
        Ok(())
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.recombine.next_deadline()
    }
    fn flush_expired(&mut self, now: Instant, out: &mut Out) {
        self.recombine.flush_expired(now, &mut self.scratch);
        out.extend(self.scratch.drain(..).map(|e| (0, e)));
    }
    fn flush_all(&mut self, out: &mut Out) {
        self.recombine.flush_all_into(&mut self.scratch);
        out.extend(self.scratch.drain(..).map(|e| (0, e)));
    }
}

fn time_parser(layout: &str) -> TimeParser {
    let c = TimeConfig {
        parse_from: Some(Field::attribute("time")),
        layout: layout.into(),
        layout_type: Some("gotime".into()),
        location: String::new(),
    };
    TimeParser::build(&c, None).expect("fixed layouts build")
}

pub(super) fn build(ctx: &mut Ctx, core: ParserCore) -> Result<Box<dyn Operator>, BuildError> {
    let c: ContainerConfig = ctx.config()?;
    let format = match c.format.as_deref() {
        None | Some("") => None,
        Some("docker") => Some(Format::Docker),
        Some("crio") => Some(Format::Crio),
        Some("containerd") => Some(Format::Containerd),
        Some(o) => {
            return Err(ctx.err(
                "format",
                format!("invalid format {o:?}: use docker, crio or containerd"),
            ));
        }
    };
    let mut recombine = Recombiner::new(None, false, Field::body(), String::new(), false);
    if let Some(v) = &c.max_log_size {
        recombine.max_log_size = byte_size(v).map_err(|m| ctx.err("max_log_size", m))?;
    }
    Ok(Box::new(Container {
        core,
        format,
        metadata: c.add_metadata_from_filepath.unwrap_or(true),
        crio: RegexParse::new(CRIO).expect("fixed pattern"),
        containerd: RegexParse::new(CONTAINERD).expect("fixed pattern"),
        path: RegexParse::new(LOG_PATH).expect("fixed pattern"),
        utc_time: time_parser("2006-01-02T15:04:05.999Z"),
        crio_time: time_parser("2006-01-02T15:04:05.999999999Z07:00"),
        recombine,
        scratch: Vec::new(),
        json: crate::json::JsonParser::new(false),
    }))
}
