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
}

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
        };
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
                &url,
            ])
            .args(["--storage-engine", "sqlite://tansu.db"])
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
        let p: ThreadedProducer<DefaultProducerContext> = self.client().create().unwrap();
        for (k, v) in records {
            let mut r = BaseRecord::<[u8], [u8]>::to(topic);
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
                out.push((
                    m.partition(),
                    m.key().map(<[u8]>::to_vec),
                    m.payload().unwrap_or_default().to_vec(),
                ));
            }
        }
        out
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
