//! For tests/kafka.rs: a real Kafka-protocol broker (tansu, started per test on loopback in
//! its own directory) and a plain Kafka client (rdkafka) to create topics and read or write
//! records beside the collector.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::Message;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

use super::interop_support::free_port;

/// The tansu binary: `FERROTEL_TANSU`, else `tansu` on PATH. Missing: the test fails under CI
/// (env `CI` set) and is skipped loudly otherwise.
pub fn tansu() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FERROTEL_TANSU") {
        return Some(PathBuf::from(p));
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("tansu"))
            .find(|p| p.is_file())
    });
    if on_path.is_none() {
        // By hand only: librdkafka's in-process mock cluster (`cargo build -p ferrotel-kafka
        // --example mock_broker`) speaks the protocol but neither persists nor restarts.
        if let Some(p) = std::env::var_os("FERROTEL_KAFKA_MOCK") {
            eprintln!("\n*** tansu missing: running against librdkafka's mock cluster ***\n");
            return Some(PathBuf::from(p));
        }
        let msg = "tansu (the Kafka-protocol broker these tests run) is missing: set FERROTEL_TANSU \
                   or put tansu on PATH (.ci/run installs it: cargo install tansu --version 0.6.0 \
                   --locked --features libsql,dynostore)";
        if std::env::var_os("CI").is_some() {
            panic!("{msg}");
        }
        eprintln!("\n*** SKIPPED: {msg} ***\n");
    }
    on_path
}

/// A record to produce: key and value (`None` value: a null record).
pub type Record<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

/// A tansu broker with the sqlite engine (it keeps data and offsets across restarts) in
/// `dir`. Killed when dropped.
pub struct Broker {
    bin: PathBuf,
    dir: PathBuf,
    pub port: u16,
    child: Option<Child>,
    /// The mock's control lines (stdout).
    mock_out: Option<std::io::BufReader<std::process::ChildStdout>>,
    /// `--authentication`: SASL (SCRAM) required of every client.
    authentication: bool,
    /// The port the broker advertises when not its own (a TLS proxy in front of it).
    advertised_port: Option<u16>,
    /// The SASL user (mechanism, name, password) of this helper's own client.
    user: Option<(String, String, String)>,
}

/// A SASL user of the broker: (mechanism `SCRAM-SHA-256` or `SCRAM-SHA-512`, name, password).
pub type User<'a> = (&'a str, &'a str, &'a str);

impl Broker {
    pub fn start(bin: &Path, dir: &Path) -> Broker {
        let dir = dir.join("tansu");
        std::fs::create_dir_all(&dir).unwrap();
        let mut b = Broker {
            bin: bin.to_path_buf(),
            dir,
            port: free_port(),
            child: None,
            mock_out: None,
            authentication: false,
            advertised_port: None,
            user: None,
        };
        b.spawn();
        b
    }

    /// A broker with its topics and SCRAM users that then requires SASL of every client
    /// (`--authentication`), and advertises `advertised_port` when set (a TLS proxy's). tansu
    /// refuses user creation from unauthenticated clients once authentication is on, so the
    /// users and topics are made first and the broker restarted on the same sqlite file.
    /// This helper's own client authenticates as the first user.
    pub fn secured(
        bin: &Path,
        dir: &Path,
        topics: &[(&str, i32)],
        users: &[User<'_>],
        advertised_port: Option<u16>,
    ) -> Broker {
        let mut b = Broker::with_topics(bin, dir, topics);
        for (mechanism, name, password) in users {
            let mechanism = match *mechanism {
                "SCRAM-SHA-256" => "scram256",
                "SCRAM-SHA-512" => "scram512",
                other => panic!("tansu 0.6 offers SCRAM-SHA-256 and -512 only, not {other}"),
            };
            let out = Command::new(&b.bin)
                .args(["user", "create", "--broker", &format!("tcp://{}", b.addr())])
                .args([*name, *password, "--mechanism", mechanism])
                .current_dir(&b.dir)
                .output()
                .unwrap();
            assert!(out.status.success(), "tansu user create {name}: {out:?}");
        }
        b.stop();
        b.authentication = !users.is_empty();
        b.advertised_port = advertised_port;
        b.user = users
            .first()
            .map(|(m, n, p)| (m.to_string(), n.to_string(), p.to_string()));
        b.spawn();
        b
    }

    /// [`Broker::start`], then the topics (name, partitions) created.
    pub fn with_topics(bin: &Path, dir: &Path, topics: &[(&str, i32)]) -> Broker {
        let mut b = Broker::start(bin, dir);
        b.create_topics(topics);
        b
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// librdkafka's mock cluster rather than tansu (FERROTEL_KAFKA_MOCK).
    pub fn is_mock(&self) -> bool {
        self.bin.ends_with("mock_broker")
    }

    fn spawn(&mut self) {
        if self.is_mock() {
            let mut child = Command::new(&self.bin)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
            let mut line = String::new();
            std::io::BufRead::read_line(&mut out, &mut line).unwrap();
            self.port = line.trim().rsplit(':').next().unwrap().parse().unwrap();
            self.child = Some(child);
            self.mock_out = Some(out);
            return;
        }
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let advertised = format!(
            "tcp://127.0.0.1:{}",
            self.advertised_port.unwrap_or(self.port)
        );
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("tansu.log"))
            .unwrap();
        let child = Command::new(&self.bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &advertised,
            ])
            .args(["--storage-engine", "sqlite://tansu.db"])
            .args(self.authentication.then_some("--authentication"))
            .current_dir(&self.dir)
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.bin.display()));
        self.child = Some(child);
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "tansu did not listen within 30 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("tansu.log")).unwrap_or_default()
    }

    /// SIGTERM and wait (the sqlite file keeps what was written).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let start = Instant::now();
            while c.try_wait().unwrap().is_none() {
                if start.elapsed() > Duration::from_secs(10) {
                    let _ = c.kill();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Starts again on the same port and storage.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn client(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", self.addr());
        if let Some((mechanism, name, password)) = &self.user {
            c.set("security.protocol", "sasl_plaintext")
                .set("sasl.mechanism", mechanism)
                .set("sasl.username", name)
                .set("sasl.password", password);
        }
        c
    }

    /// Creates topics (name, partitions); tansu does not create them on first use.
    pub fn create_topics(&mut self, topics: &[(&str, i32)]) {
        if self.is_mock() {
            use std::io::{BufRead, Write};
            let stdin = self.child.as_mut().unwrap().stdin.as_mut().unwrap();
            for (t, p) in topics {
                writeln!(stdin, "{t}:{p}").unwrap();
                let mut ok = String::new();
                self.mock_out.as_mut().unwrap().read_line(&mut ok).unwrap();
                assert_eq!(ok.trim(), "ok");
            }
            return;
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let admin: AdminClient<DefaultClientContext> = self.client().create().unwrap();
        let new: Vec<NewTopic> = topics
            .iter()
            .map(|(n, p)| NewTopic::new(n, *p, TopicReplication::Fixed(1)))
            .collect();
        let res = rt
            .block_on(admin.create_topics(&new, &AdminOptions::new()))
            .unwrap();
        for r in res {
            if let Err((t, e)) = r {
                panic!("creating topic {t}: {e}");
            }
        }
    }

    /// Produces records (key, value; `None` value is a null record) and waits for delivery.
    pub fn produce(&self, topic: &str, records: &[Record<'_>]) {
        self.produce_with_headers(topic, records, &[]);
    }

    /// [`Broker::produce`], each record with these headers (name, value).
    pub fn produce_with_headers(
        &self,
        topic: &str,
        records: &[Record<'_>],
        headers: &[(&str, &str)],
    ) {
        let p: ThreadedProducer<DefaultProducerContext> = self.client().create().unwrap();
        let mut h = OwnedHeaders::new();
        for (k, v) in headers {
            h = h.insert(Header {
                key: k,
                value: Some(*v),
            });
        }
        for (k, v) in records {
            let mut r = BaseRecord::<[u8], [u8]>::to(topic).headers(h.clone());
            if let Some(k) = k {
                r = r.key(*k);
            }
            if let Some(v) = v {
                r = r.payload(*v);
            }
            p.send(r).map_err(|(e, _)| e).unwrap();
        }
        p.flush(Duration::from_secs(20)).unwrap();
    }

    /// Reads `n` records of `topic` from the start (a fresh group): (partition, key, value).
    pub fn read(&self, topic: &str, n: usize) -> Vec<(i32, Option<Vec<u8>>, Vec<u8>)> {
        self.read_records(topic, n)
            .into_iter()
            .map(|r| (r.partition, r.key, r.value))
            .collect()
    }

    /// Reads `n` records of `topic` from the start (a fresh group), headers too.
    pub fn read_records(&self, topic: &str, n: usize) -> Vec<ReadRecord> {
        let c: BaseConsumer = self
            .client()
            .set("group.id", format!("reader-{}", free_port()))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        c.subscribe(&[topic]).unwrap();
        let mut out = Vec::new();
        let start = Instant::now();
        while out.len() < n {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "read {} of {n} records of {topic} in 60 s",
                out.len()
            );
            if let Some(m) = c.poll(Duration::from_millis(100)) {
                let m = m.unwrap();
                let headers = m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| {
                                let v = String::from_utf8_lossy(h.value.unwrap_or_default());
                                (h.key.to_string(), v.into_owned())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(ReadRecord {
                    partition: m.partition(),
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().unwrap_or_default().to_vec(),
                    headers,
                });
            }
        }
        out
    }
}

/// A record read back by [`Broker::read_records`].
pub struct ReadRecord {
    pub partition: i32,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    /// (name, value as UTF-8), in record order.
    pub headers: Vec<(String, String)>,
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A TLS-terminating proxy on `port` in front of the broker's plaintext `upstream` port, with
/// the server certificate `cert`/`key` (PEM): tansu 0.6 accepts `--cert`/`--key` but never
/// uses them (its acceptor is built and dropped), so TLS between the collector and Kafka is
/// shown through this proxy, as a TLS load balancer in front of brokers would run. Serves
/// until the test process ends. With `client_ca`, it requires a client certificate signed by
/// that CA (mutual TLS), as brokers with `ssl.client.auth=required` do.
pub fn tls_proxy(port: u16, upstream: u16, cert: &Path, key: &Path, client_ca: Option<&Path>) {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca).unwrap() {
                roots.add(c.unwrap()).unwrap();
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                std::sync::Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(certs, key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A client that does not trust the certificate hangs up here.
                    let Ok(mut tls) = acceptor.accept(conn).await else {
                        return;
                    };
                    let Ok(mut plain) =
                        tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
    });
}

/// `<prefix>-<i>` for i in from..from + n.
pub fn names(prefix: &str, from: usize, n: usize) -> Vec<String> {
    (from..from + n).map(|i| format!("{prefix}-{i}")).collect()
}

/// `file/<signal>` exporters writing `format: proto` under `dir`.
pub fn file_exporters(dir: &Path) -> String {
    let d = dir.display();
    format!(
        r#"
  file/traces: {{path: {d}/traces.bin, format: proto, flush_interval: 50ms}}
  file/metrics: {{path: {d}/metrics.bin, format: proto, flush_interval: 50ms}}
  file/logs: {{path: {d}/logs.bin, format: proto, flush_interval: 50ms}}"#
    )
}
