//! librdkafka's in-process mock cluster on a loopback port, for trying configs by hand when no
//! broker is at hand: `cargo run -p ferrotel-kafka --example mock_broker -- TOPIC:PARTITIONS...`
//! prints the bootstrap address and serves until killed; each `TOPIC:PARTITIONS` line on stdin
//! creates a topic and is answered `ok` (the mock does not serve CreateTopics). Not a substitute for the tests'
//! real broker (no persistence, no restarts).

use rdkafka::mocking::MockCluster;

fn main() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    for spec in std::env::args().skip(1) {
        let (topic, partitions) = spec.split_once(':').unwrap_or((&spec, "1"));
        cluster
            .create_topic(topic, partitions.parse().expect("partitions"), 1)
            .expect("create topic");
    }
    println!("{}", cluster.bootstrap_servers());
    for line in std::io::stdin().lines().map_while(Result::ok) {
        let (topic, partitions) = line.trim().split_once(':').unwrap_or((line.trim(), "1"));
        cluster
            .create_topic(topic, partitions.parse().expect("partitions"), 1)
            .expect("create topic");
        println!("ok");
    }
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
