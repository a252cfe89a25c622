package io.github.cdk8spostgrescluster.smoke;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.github.cdk8spostgrescluster.BackupOptions;
import io.github.cdk8spostgrescluster.BackupRepository;
import io.github.cdk8spostgrescluster.BackupRetention;
import io.github.cdk8spostgrescluster.BackupSchedules;
import io.github.cdk8spostgrescluster.CertManagerTlsOptions;
import io.github.cdk8spostgrescluster.ClientAuthMethod;
import io.github.cdk8spostgrescluster.ConnectionSettings;
import io.github.cdk8spostgrescluster.DatabaseGrantOptions;
import io.github.cdk8spostgrescluster.DatabaseOptions;
import io.github.cdk8spostgrescluster.DatabasePrivilege;
import io.github.cdk8spostgrescluster.DatabaseSettings;
import io.github.cdk8spostgrescluster.DelayedReplicaOptions;
import io.github.cdk8spostgrescluster.FailoverTiming;
import io.github.cdk8spostgrescluster.HbaConnectionType;
import io.github.cdk8spostgrescluster.HbaRule;
import io.github.cdk8spostgrescluster.HeartbeatOptions;
import io.github.cdk8spostgrescluster.HugePages;
import io.github.cdk8spostgrescluster.ListenAddress;
import io.github.cdk8spostgrescluster.LogFormat;
import io.github.cdk8spostgrescluster.LogLevel;
import io.github.cdk8spostgrescluster.MetricsOptions;
import io.github.cdk8spostgrescluster.MonitoringOptions;
import io.github.cdk8spostgrescluster.NetworkOptions;
import io.github.cdk8spostgrescluster.NetworkPeer;
import io.github.cdk8spostgrescluster.NodeConfigProps;
import io.github.cdk8spostgrescluster.PatroniDcs;
import io.github.cdk8spostgrescluster.PoolMode;
import io.github.cdk8spostgrescluster.PoolerOptions;
import io.github.cdk8spostgrescluster.PostgresCluster;
import io.github.cdk8spostgrescluster.PostgresImage;
import io.github.cdk8spostgrescluster.PrimaryNodeOptions;
import io.github.cdk8spostgrescluster.ReplicaSetOptions;
import io.github.cdk8spostgrescluster.ReplicationMode;
import io.github.cdk8spostgrescluster.ReplicationSettings;
import io.github.cdk8spostgrescluster.Resources;
import io.github.cdk8spostgrescluster.ResourcesOptions;
import io.github.cdk8spostgrescluster.S3RepositoryOptions;
import io.github.cdk8spostgrescluster.SchemaGrant;
import io.github.cdk8spostgrescluster.SchemaPrivilege;
import io.github.cdk8spostgrescluster.SharedMemorySettings;
import io.github.cdk8spostgrescluster.StorageOptions;
import io.github.cdk8spostgrescluster.StorageType;
import io.github.cdk8spostgrescluster.TablePrivilege;
import io.github.cdk8spostgrescluster.TcpKeepalives;
import io.github.cdk8spostgrescluster.Tls;
import io.github.cdk8spostgrescluster.TlsVersion;
import io.github.cdk8spostgrescluster.UserOptions;
import io.github.cdk8spostgrescluster.VolumeRepositoryOptions;
import org.cdk8s.ApiObjectMetadata;
import org.cdk8s.App;
import org.cdk8s.AppProps;
import org.cdk8s.Chart;
import org.cdk8s.ChartProps;
import org.cdk8s.Duration;
import org.cdk8s.Size;
import org.cdk8s.plus27.ConfigMap;
import org.cdk8s.plus27.Cpu;
import org.cdk8s.plus27.PersistentVolumeAccessMode;
import org.cdk8s.plus27.Secret;

/**
 * Smoke app for the Java binding: synthesizes Java translations of examples/basic/app.ts and
 * examples/production/app.ts into {@code <outdir>/basic} and {@code <outdir>/production}, and writes
 * the messages Java receives for two invalid props to {@code <outdir>/errors.txt}.
 */
public final class Main {
    private Main() {
    }

    public static void main(final String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: Main <outdir>");
            System.exit(2);
        }
        final Path outdir = Paths.get(args[0]).toAbsolutePath();
        basic(outdir.resolve("basic").toString()).synth();
        production(outdir.resolve("production").toString()).synth();
        readme(outdir.resolve("readme").toString()).synth();

        final List<String> errors = new ArrayList<>();
        errors.add(errorOf(() -> {
            final Chart chart = new Chart(new App(), "bad");
            PostgresCluster.Builder.create(chart, "db")
                    .replicas(ReplicaSetOptions.builder().count(-1).build())
                    .build();
        }));
        errors.add(errorOf(() -> {
            final Chart chart = new Chart(new App(), "bad2");
            PostgresCluster.Builder.create(chart, "db")
                    .config(NodeConfigProps.builder()
                            .connection(ConnectionSettings.builder().maxConnections(3).build())
                            .build())
                    .build();
        }));
        Files.write(outdir.resolve("errors.txt"), errors, StandardCharsets.UTF_8);
    }

    /** examples/basic/app.ts: the zero-prop cluster. */
    static App basic(final String outdir) {
        final App app = new App(AppProps.builder().outdir(outdir).build());
        final Chart chart = new Chart(app, "basic");
        new PostgresCluster(chart, "db");
        return app;
    }

    /** The README's first example, in Java (the README copies it from here). */
    static App readme(final String outdir) {
        final App app = new App(AppProps.builder().outdir(outdir).build());
        final Chart chart = new Chart(app, "orders", ChartProps.builder().namespace("orders").build());
        final PostgresCluster db = PostgresCluster.Builder.create(chart, "db")
                .createNamespace(true)
                .build();
        System.out.println(db.getPrimaryHost()); // db-primary.orders.svc: read-write, follows the leader
        return app;
    }

    /** examples/production/app.ts: a production-shaped cluster, every prop as in the TypeScript. */
    static App production(final String outdir) {
        final App app = new App(AppProps.builder().outdir(outdir).build());
        final Chart chart = new Chart(app, "production", ChartProps.builder().namespace("orders").build());

        final Map<String, String> parameters = new LinkedHashMap<>();
        parameters.put("shared_preload_libraries", "pg_stat_statements");
        parameters.put("pg_stat_statements.track", "top");

        final PostgresCluster db = PostgresCluster.Builder.create(chart, "db")
                .clusterName("orders-db")
                // The Namespace `orders` comes with the cluster: kubectl apply needs it first.
                .createNamespace(true)
                .image(PostgresImage.percona(17))
                .replicas(ReplicaSetOptions.builder().count(2).build())
                .delayedReplicas(DelayedReplicaOptions.builder()
                        .count(1)
                        .applyDelay(Duration.hours(1))
                        .resources(Resources.MEDIUM)
                        .build())
                .primary(PrimaryNodeOptions.builder()
                        .resources(Resources.of(ResourcesOptions.builder()
                                .cpu(Cpu.units(2))
                                .memory(Size.gibibytes(4))
                                .cpuLimit(Cpu.units(4))
                                .build()))
                        .build())
                .storage(StorageOptions.builder()
                        .size(Size.gibibytes(100))
                        .storageClassName("fast-ssd")
                        .accessMode(PersistentVolumeAccessMode.READ_WRITE_ONCE)
                        .type(StorageType.NETWORK_SSD)
                        .build())
                .failoverTiming(FailoverTiming.FAST)
                // TLS from cert-manager (the default), with a per-cluster CA and 60-day certificates.
                .tls(Tls.certManager(CertManagerTlsOptions.builder()
                        .duration(Duration.days(60))
                        .renewBefore(Duration.days(10))
                        .build()))
                .network(NetworkOptions.builder()
                        .allowFrom(List.of(
                                NetworkPeer.namespaces(Map.of("kubernetes.io/metadata.name", "orders")),
                                NetworkPeer.pods(Map.of("app.kubernetes.io/part-of", "orders"))))
                        .metricsFrom(List.of(
                                NetworkPeer.namespaces(Map.of("kubernetes.io/metadata.name", "monitoring"))))
                        .build())
                .monitoring(MonitoringOptions.builder()
                        .heartbeat(HeartbeatOptions.builder()
                                .interval(Duration.seconds(5))
                                .failureThreshold(3)
                                .maxLag(Size.mebibytes(32))
                                .maxLagTime(Duration.seconds(30))
                                .build())
                        .metrics(MetricsOptions.builder()
                                .podMonitor(true)
                                .scrapeInterval(Duration.seconds(30))
                                .build())
                        .build())
                .dcs(PatroniDcs.CONFIGMAPS)
                .requireSeparateNodes(true)
                // Applications never connect as the superuser: declared roles and databases, applied by a Job.
                .databases(List.of(DatabaseOptions.builder()
                        .name("orders")
                        .owner("orders_owner")
                        .extensions(List.of("pg_stat_statements"))
                        .build()))
                .users(List.of(
                        UserOptions.builder().name("orders_owner").login(false).build(),
                        UserOptions.builder()
                                .name("orders_app")
                                .connectionLimit(100)
                                .memberOf(List.of("orders_owner"))
                                .databases(List.of(DatabaseGrantOptions.builder()
                                        .database("orders")
                                        .privileges(List.of(DatabasePrivilege.CONNECT))
                                        .build()))
                                .schemas(List.of(SchemaGrant.builder()
                                        .database("orders")
                                        .schema("public")
                                        .privileges(List.of(SchemaPrivilege.USAGE))
                                        .tables(List.of(TablePrivilege.SELECT, TablePrivilege.INSERT,
                                                TablePrivilege.UPDATE, TablePrivilege.DELETE))
                                        .build()))
                                .build(),
                        UserOptions.builder()
                                .name("orders_reporting")
                                .connectionLimit(10)
                                .databases(List.of(DatabaseGrantOptions.builder().database("orders").build()))
                                .schemas(List.of(SchemaGrant.builder()
                                        .database("orders")
                                        .tables(List.of(TablePrivilege.SELECT))
                                        .build()))
                                .build()))
                .pooler(PoolerOptions.builder()
                        .instances(2)
                        .poolMode(PoolMode.TRANSACTION)
                        .defaultPoolSize(40)
                        .maxClientConnections(2000)
                        .readOnly(true)
                        .build())
                // pgBackRest: a backup node on the cluster's own volume, and an encrypted off-site copy in S3.
                .backup(BackupOptions.builder()
                        .repositories(List.of(
                                BackupRepository.volume(VolumeRepositoryOptions.builder()
                                        .size(Size.gibibytes(200))
                                        .storageClassName("standard")
                                        .build()),
                                BackupRepository.s3(S3RepositoryOptions.builder()
                                        .bucket("acme-orders-pg")
                                        .region("eu-west-1")
                                        .credentialsSecret(Secret.fromSecretName(chart, "s3-credentials", "orders-db-s3"))
                                        .encryptionSecret(Secret.fromSecretName(chart, "s3-cipher", "orders-db-s3-cipher"))
                                        .retention(BackupRetention.days(30))
                                        .schedules(BackupSchedules.builder()
                                                .full("0 2 * * 0")
                                                .differential("0 2 * * 3")
                                                .incremental("0 */6 * * *")
                                                .timeZone("Europe/Berlin")
                                                .build())
                                        .build())))
                        .schedules(BackupSchedules.builder()
                                .full("0 1 * * 0")
                                .incremental("0 1 * * 1-6")
                                .build())
                        .archiveTimeout(Duration.seconds(60))
                        .build())
                .config(NodeConfigProps.builder()
                        .resources(Resources.LARGE)
                        .database(DatabaseSettings.builder()
                                .name("app")
                                .port(5432)
                                .listenAddress(ListenAddress.ALL)
                                .logLevel(LogLevel.WARNING)
                                .logFormat(LogFormat.TEXT)
                                .logStatementsSlowerThan(Duration.seconds(2))
                                .build())
                        .connection(ConnectionSettings.builder()
                                .maxConnections(200)
                                .superuserReservedConnections(5)
                                .clientAuth(ClientAuthMethod.SCRAM_SHA_256)
                                .replicationAuth(ClientAuthMethod.CERT)
                                .hbaRules(List.of(HbaRule.builder()
                                        .type(HbaConnectionType.HOSTSSL)
                                        .database("all")
                                        .user("all")
                                        .address("169.254.0.0/16")
                                        .method(ClientAuthMethod.REJECT)
                                        .build()))
                                .connectTimeout(Duration.seconds(30))
                                .statementTimeout(Duration.minutes(5))
                                .idleInTransactionTimeout(Duration.minutes(10))
                                .idleSessionTimeout(Duration.hours(12))
                                .tcpKeepalives(TcpKeepalives.builder()
                                        .idle(Duration.seconds(60))
                                        .interval(Duration.seconds(10))
                                        .count(6)
                                        .build())
                                .tlsMinVersion(TlsVersion.TLS_1_3)
                                .build())
                        .replication(ReplicationSettings.builder()
                                .mode(ReplicationMode.SYNCHRONOUS)
                                .synchronousStandbys(1)
                                .maximumLagOnFailover(Size.mebibytes(16))
                                .slots(true)
                                .maxSlotWalKeepSize(Size.gibibytes(20))
                                .walKeepSize(Size.gibibytes(1))
                                .build())
                        .sharedMemory(SharedMemorySettings.builder()
                                .sharedBuffers(Size.mebibytes(768))
                                .devShmSize(Size.mebibytes(512))
                                .hugePages(HugePages.OFF)
                                .build())
                        .parameters(parameters)
                        .build())
                .build();

        // What other constructs consume: the read-write host, its port and the credentials Secret.
        final Map<String, String> data = new LinkedHashMap<>();
        data.put("DATABASE_HOST", db.getPrimaryHost());
        data.put("DATABASE_PORT", String.valueOf(db.getPort().intValue()));
        data.put("DATABASE_NAME", db.getDatabaseName());
        data.put("DATABASE_READONLY_HOST", db.getReplicasHost());
        data.put("DATABASE_SSLMODE", "verify-full");
        // The CA certificate alone (a ConfigMap): never a certificate's Secret, which holds a private key.
        data.put("DATABASE_CA_CONFIGMAP", db.getCaConfigMapName() != null ? db.getCaConfigMapName() : "");
        ConfigMap.Builder.create(chart, "app-settings")
                .metadata(ApiObjectMetadata.builder().name("orders-app-settings").build())
                .data(data)
                .build();
        return app;
    }

    /** The message a Java user reads from the exception an invalid prop raises (its first line). */
    private static String errorOf(final Runnable build) {
        try {
            build.run();
        } catch (RuntimeException e) {
            final String message = String.valueOf(e.getMessage());
            final int newline = message.indexOf('\n');
            return newline < 0 ? message : message.substring(0, newline);
        }
        throw new IllegalStateException("expected an invalid prop to be rejected");
    }
}
