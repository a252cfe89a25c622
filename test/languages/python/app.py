"""Python smoke app for cdk8s-postgres-cluster.

``python app.py OUTDIR`` synthesizes, with the Python binding, the two TypeScript examples
(examples/basic/app.ts and examples/production/app.ts) to OUTDIR/basic and OUTDIR/production,
which must be byte-identical to dist/examples/, and writes OUTDIR/errors.txt: the validation
message a Python user receives for each bad-prop case, one line per case.
"""

import shutil
import sys
from pathlib import Path

import cdk8s_plus_27 as kplus
from cdk8s import ApiObjectMetadata, App, Chart, Duration, Size
from cdk8s_postgres_cluster import (
    BackupOptions,
    BackupRepository,
    BackupRetention,
    BackupSchedules,
    ClientAuthMethod,
    ConnectionSettings,
    DatabaseGrantOptions,
    DatabaseOptions,
    DatabasePrivilege,
    DatabaseSettings,
    DelayedReplicaOptions,
    FailoverTiming,
    HbaConnectionType,
    HbaRule,
    HeartbeatOptions,
    HugePages,
    ListenAddress,
    LogFormat,
    LogLevel,
    MetricsOptions,
    MonitoringOptions,
    NetworkOptions,
    NetworkPeer,
    NodeConfigProps,
    PatroniDcs,
    PoolerOptions,
    PoolMode,
    PostgresCluster,
    PostgresImage,
    PrimaryNodeOptions,
    ReplicaSetOptions,
    ReplicationMode,
    ReplicationSettings,
    Resources,
    SchemaGrant,
    SchemaPrivilege,
    SharedMemorySettings,
    StorageOptions,
    StorageType,
    TablePrivilege,
    TcpKeepalives,
    Tls,
    TlsVersion,
    UserOptions,
)


def build_basic(outdir: str) -> App:
    """examples/basic/app.ts: the zero-prop cluster."""
    app = App(outdir=outdir)
    chart = Chart(app, "basic")
    PostgresCluster(chart, "db")
    return app


def build_production(outdir: str) -> App:
    """examples/production/app.ts: a production-shaped cluster."""
    app = App(outdir=outdir)
    chart = Chart(app, "production", namespace="orders")
    db = PostgresCluster(
        chart,
        "db",
        cluster_name="orders-db",
        # The Namespace `orders` comes with the cluster: kubectl apply needs it first.
        create_namespace=True,
        image=PostgresImage.percona(17),
        replicas=ReplicaSetOptions(count=2),
        delayed_replicas=DelayedReplicaOptions(
            count=1, apply_delay=Duration.hours(1), resources=Resources.MEDIUM
        ),
        primary=PrimaryNodeOptions(
            resources=Resources.of(
                cpu=kplus.Cpu.units(2), memory=Size.gibibytes(4), cpu_limit=kplus.Cpu.units(4)
            ),
        ),
        storage=StorageOptions(
            size=Size.gibibytes(100),
            storage_class_name="fast-ssd",
            access_mode=kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE,
            type=StorageType.NETWORK_SSD,
        ),
        failover_timing=FailoverTiming.FAST,
        # TLS from cert-manager (the default), with a per-cluster CA and 60-day certificates.
        tls=Tls.cert_manager(duration=Duration.days(60), renew_before=Duration.days(10)),
        network=NetworkOptions(
            allow_from=[
                NetworkPeer.namespaces({"kubernetes.io/metadata.name": "orders"}),
                NetworkPeer.pods({"app.kubernetes.io/part-of": "orders"}),
            ],
            metrics_from=[NetworkPeer.namespaces({"kubernetes.io/metadata.name": "monitoring"})],
        ),
        monitoring=MonitoringOptions(
            heartbeat=HeartbeatOptions(
                interval=Duration.seconds(5),
                failure_threshold=3,
                max_lag=Size.mebibytes(32),
                max_lag_time=Duration.seconds(30),
            ),
            metrics=MetricsOptions(pod_monitor=True, scrape_interval=Duration.seconds(30)),
        ),
        dcs=PatroniDcs.CONFIGMAPS,
        require_separate_nodes=True,
        # Applications never connect as the superuser: declared roles and databases, applied by a Job.
        databases=[
            DatabaseOptions(name="orders", owner="orders_owner", extensions=["pg_stat_statements"]),
        ],
        users=[
            UserOptions(name="orders_owner", login=False),
            UserOptions(
                name="orders_app",
                connection_limit=100,
                member_of=["orders_owner"],
                databases=[
                    DatabaseGrantOptions(database="orders", privileges=[DatabasePrivilege.CONNECT]),
                ],
                schemas=[
                    SchemaGrant(
                        database="orders",
                        schema="public",
                        privileges=[SchemaPrivilege.USAGE],
                        tables=[
                            TablePrivilege.SELECT,
                            TablePrivilege.INSERT,
                            TablePrivilege.UPDATE,
                            TablePrivilege.DELETE,
                        ],
                    ),
                ],
            ),
            UserOptions(
                name="orders_reporting",
                connection_limit=10,
                databases=[DatabaseGrantOptions(database="orders")],
                schemas=[SchemaGrant(database="orders", tables=[TablePrivilege.SELECT])],
            ),
        ],
        pooler=PoolerOptions(
            instances=2,
            pool_mode=PoolMode.TRANSACTION,
            default_pool_size=40,
            max_client_connections=2000,
            read_only=True,
        ),
        # pgBackRest: a backup node on the cluster's own volume, and an encrypted off-site copy in S3.
        backup=BackupOptions(
            repositories=[
                BackupRepository.volume(size=Size.gibibytes(200), storage_class_name="standard"),
                BackupRepository.s3(
                    bucket="acme-orders-pg",
                    region="eu-west-1",
                    credentials_secret=kplus.Secret.from_secret_name(chart, "s3-credentials", "orders-db-s3"),
                    encryption_secret=kplus.Secret.from_secret_name(chart, "s3-cipher", "orders-db-s3-cipher"),
                    retention=BackupRetention.days(30),
                    schedules=BackupSchedules(
                        full="0 2 * * 0",
                        differential="0 2 * * 3",
                        incremental="0 */6 * * *",
                        time_zone="Europe/Berlin",
                    ),
                ),
            ],
            schedules=BackupSchedules(full="0 1 * * 0", incremental="0 1 * * 1-6"),
            archive_timeout=Duration.seconds(60),
        ),
        config=NodeConfigProps(
            resources=Resources.LARGE,
            database=DatabaseSettings(
                name="app",
                port=5432,
                listen_address=ListenAddress.ALL,
                log_level=LogLevel.WARNING,
                log_format=LogFormat.TEXT,
                log_statements_slower_than=Duration.seconds(2),
            ),
            connection=ConnectionSettings(
                max_connections=200,
                superuser_reserved_connections=5,
                client_auth=ClientAuthMethod.SCRAM_SHA_256,
                replication_auth=ClientAuthMethod.CERT,
                hba_rules=[
                    HbaRule(
                        type=HbaConnectionType.HOSTSSL,
                        database="all",
                        user="all",
                        address="169.254.0.0/16",
                        method=ClientAuthMethod.REJECT,
                    ),
                ],
                connect_timeout=Duration.seconds(30),
                statement_timeout=Duration.minutes(5),
                idle_in_transaction_timeout=Duration.minutes(10),
                idle_session_timeout=Duration.hours(12),
                tcp_keepalives=TcpKeepalives(
                    idle=Duration.seconds(60), interval=Duration.seconds(10), count=6
                ),
                tls_min_version=TlsVersion.TLS_1_3,
            ),
            replication=ReplicationSettings(
                mode=ReplicationMode.SYNCHRONOUS,
                synchronous_standbys=1,
                maximum_lag_on_failover=Size.mebibytes(16),
                slots=True,
                max_slot_wal_keep_size=Size.gibibytes(20),
                wal_keep_size=Size.gibibytes(1),
            ),
            shared_memory=SharedMemorySettings(
                shared_buffers=Size.mebibytes(768),
                dev_shm_size=Size.mebibytes(512),
                huge_pages=HugePages.OFF,
            ),
            parameters={
                "shared_preload_libraries": "pg_stat_statements",
                "pg_stat_statements.track": "top",
            },
        ),
    )

    # What other constructs consume: the read-write host, its port and the credentials Secret.
    kplus.ConfigMap(
        chart,
        "app-settings",
        metadata=ApiObjectMetadata(name="orders-app-settings"),
        data={
            "DATABASE_HOST": db.primary_host,
            # jsii hands a whole JavaScript number to Python as an int: str() gives "5432".
            "DATABASE_PORT": str(db.port),
            "DATABASE_NAME": db.database_name,
            "DATABASE_READONLY_HOST": db.replicas_host,
            "DATABASE_SSLMODE": "verify-full",
            # The CA certificate alone (a ConfigMap): never a certificate's Secret, which holds a private key.
            "DATABASE_CA_CONFIGMAP": db.ca_config_map_name or "",
        },
    )
    return app


def build_readme(outdir: str) -> App:
    """The README's first example, in Python (the README copies it from here)."""
    app = App(outdir=outdir)
    chart = Chart(app, "orders", namespace="orders")
    db = PostgresCluster(chart, "db", create_namespace=True)
    print(db.primary_host)  # db-primary.orders.svc: read-write, follows the leader
    return app


def bad_prop_errors() -> list:
    """The message Python receives for each invalid prop (jsii raises it as a RuntimeError)."""
    cases = [
        lambda: PostgresCluster(Chart(App(), "bad"), "db", replicas=ReplicaSetOptions(count=-1)),
        lambda: PostgresCluster(
            Chart(App(), "bad2"),
            "db",
            config=NodeConfigProps(connection=ConnectionSettings(max_connections=3)),
        ),
    ]
    messages = []
    for number, case in enumerate(cases, start=1):
        try:
            case()
        except RuntimeError as err:
            # jsii re-raises a JavaScript Error as a plain RuntimeError whose message is the
            # JavaScript message unchanged (the JavaScript stack is its __cause__).
            messages.append(str(err))
        else:
            raise SystemExit(f"bad-prop case {number} raised no error")
    return messages


def main(argv: list) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} OUTDIR", file=sys.stderr)
        return 2
    out = Path(argv[1]).resolve()
    for name, build in (("basic", build_basic), ("production", build_production), ("readme", build_readme)):
        target = out / name
        # Like examples/synth.ts: a fresh directory, so only this synth's files are in it.
        shutil.rmtree(target, ignore_errors=True)
        build(str(target)).synth()
        print(f"{name}: {', '.join(sorted(p.name for p in target.iterdir()))}")
    errors = bad_prop_errors()
    (out / "errors.txt").write_text("".join(f"{m}\n" for m in errors), encoding="utf-8")
    for m in errors:
        print(f"error: {m}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
