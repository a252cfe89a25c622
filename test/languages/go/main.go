// A Go cdk8s app against the locally built Go module of cdk8s-postgres-cluster: it synthesizes
// examples/basic and examples/production (translated to Go) and records the error messages a Go
// user receives for invalid props. `go run . OUTDIR` writes OUTDIR/basic/basic.k8s.yaml,
// OUTDIR/production/production.k8s.yaml and OUTDIR/errors.txt.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-postgres-cluster/cdk8s-postgres-cluster-go/cdk8spostgrescluster"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/cdk8s-team/cdk8s-plus-go/cdk8splus27/v2"
)

// basic is examples/basic/app.ts: the zero-prop cluster.
func basic(outdir string) cdk8s.App {
	app := cdk8s.NewApp(&cdk8s.AppProps{Outdir: jsii.String(outdir)})
	chart := cdk8s.NewChart(app, jsii.String("basic"), nil)
	cdk8spostgrescluster.NewPostgresCluster(chart, jsii.String("db"), nil)
	return app
}

// readme is the README's first example, in Go (the README copies it from here).
func readme(outdir string) cdk8s.App {
	app := cdk8s.NewApp(&cdk8s.AppProps{Outdir: jsii.String(outdir)})
	chart := cdk8s.NewChart(app, jsii.String("orders"), &cdk8s.ChartProps{Namespace: jsii.String("orders")})
	db := cdk8spostgrescluster.NewPostgresCluster(chart, jsii.String("db"), &cdk8spostgrescluster.PostgresClusterProps{
		CreateNamespace: jsii.Bool(true),
	})
	fmt.Println(*db.PrimaryHost()) // db-primary.orders.svc: read-write, follows the leader
	return app
}

// production is examples/production/app.ts.
func production(outdir string) cdk8s.App {
	app := cdk8s.NewApp(&cdk8s.AppProps{Outdir: jsii.String(outdir)})
	chart := cdk8s.NewChart(app, jsii.String("production"), &cdk8s.ChartProps{Namespace: jsii.String("orders")})
	db := cdk8spostgrescluster.NewPostgresCluster(chart, jsii.String("db"), &cdk8spostgrescluster.PostgresClusterProps{
		ClusterName: jsii.String("orders-db"),
		// The Namespace `orders` comes with the cluster: kubectl apply needs it first.
		CreateNamespace: jsii.Bool(true),
		Image:           cdk8spostgrescluster.PostgresImage_Percona(jsii.Number(17)),
		Replicas:        &cdk8spostgrescluster.ReplicaSetOptions{Count: jsii.Number(2)},
		DelayedReplicas: &cdk8spostgrescluster.DelayedReplicaOptions{
			Count:      jsii.Number(1),
			ApplyDelay: cdk8s.Duration_Hours(jsii.Number(1)),
			Resources:  cdk8spostgrescluster.Resources_MEDIUM(),
		},
		Primary: &cdk8spostgrescluster.PrimaryNodeOptions{
			Resources: cdk8spostgrescluster.Resources_Of(&cdk8spostgrescluster.ResourcesOptions{
				Cpu:      cdk8splus27.Cpu_Units(jsii.Number(2)),
				Memory:   cdk8s.Size_Gibibytes(jsii.Number(4)),
				CpuLimit: cdk8splus27.Cpu_Units(jsii.Number(4)),
			}),
		},
		Storage: &cdk8spostgrescluster.StorageOptions{
			Size:             cdk8s.Size_Gibibytes(jsii.Number(100)),
			StorageClassName: jsii.String("fast-ssd"),
			AccessMode:       cdk8splus27.PersistentVolumeAccessMode_READ_WRITE_ONCE,
			Type:             cdk8spostgrescluster.StorageType_NETWORK_SSD,
		},
		FailoverTiming: cdk8spostgrescluster.FailoverTiming_FAST(),
		// TLS from cert-manager (the default), with a per-cluster CA and 60-day certificates.
		Tls: cdk8spostgrescluster.Tls_CertManager(&cdk8spostgrescluster.CertManagerTlsOptions{
			Duration:    cdk8s.Duration_Days(jsii.Number(60)),
			RenewBefore: cdk8s.Duration_Days(jsii.Number(10)),
		}),
		Network: &cdk8spostgrescluster.NetworkOptions{
			AllowFrom: &[]cdk8spostgrescluster.NetworkPeer{
				cdk8spostgrescluster.NetworkPeer_Namespaces(&map[string]*string{"kubernetes.io/metadata.name": jsii.String("orders")}),
				cdk8spostgrescluster.NetworkPeer_Pods(&map[string]*string{"app.kubernetes.io/part-of": jsii.String("orders")}),
			},
			MetricsFrom: &[]cdk8spostgrescluster.NetworkPeer{
				cdk8spostgrescluster.NetworkPeer_Namespaces(&map[string]*string{"kubernetes.io/metadata.name": jsii.String("monitoring")}),
			},
		},
		Monitoring: &cdk8spostgrescluster.MonitoringOptions{
			Heartbeat: &cdk8spostgrescluster.HeartbeatOptions{
				Interval:         cdk8s.Duration_Seconds(jsii.Number(5)),
				FailureThreshold: jsii.Number(3),
				MaxLag:           cdk8s.Size_Mebibytes(jsii.Number(32)),
				MaxLagTime:       cdk8s.Duration_Seconds(jsii.Number(30)),
			},
			Metrics: &cdk8spostgrescluster.MetricsOptions{
				PodMonitor:     jsii.Bool(true),
				ScrapeInterval: cdk8s.Duration_Seconds(jsii.Number(30)),
			},
		},
		Dcs:                  cdk8spostgrescluster.PatroniDcs_CONFIGMAPS,
		RequireSeparateNodes: jsii.Bool(true),
		// Applications never connect as the superuser: declared roles and databases, applied by a Job.
		Databases: &[]*cdk8spostgrescluster.DatabaseOptions{
			{Name: jsii.String("orders"), Owner: jsii.String("orders_owner"), Extensions: jsii.Strings("pg_stat_statements")},
		},
		Users: &[]*cdk8spostgrescluster.UserOptions{
			{Name: jsii.String("orders_owner"), Login: jsii.Bool(false)},
			{
				Name:            jsii.String("orders_app"),
				ConnectionLimit: jsii.Number(100),
				MemberOf:        jsii.Strings("orders_owner"),
				Databases: &[]*cdk8spostgrescluster.DatabaseGrantOptions{
					{Database: jsii.String("orders"), Privileges: &[]cdk8spostgrescluster.DatabasePrivilege{cdk8spostgrescluster.DatabasePrivilege_CONNECT}},
				},
				Schemas: &[]*cdk8spostgrescluster.SchemaGrant{
					{
						Database:   jsii.String("orders"),
						Schema:     jsii.String("public"),
						Privileges: &[]cdk8spostgrescluster.SchemaPrivilege{cdk8spostgrescluster.SchemaPrivilege_USAGE},
						Tables: &[]cdk8spostgrescluster.TablePrivilege{
							cdk8spostgrescluster.TablePrivilege_SELECT,
							cdk8spostgrescluster.TablePrivilege_INSERT,
							cdk8spostgrescluster.TablePrivilege_UPDATE,
							cdk8spostgrescluster.TablePrivilege_DELETE,
						},
					},
				},
			},
			{
				Name:            jsii.String("orders_reporting"),
				ConnectionLimit: jsii.Number(10),
				Databases:       &[]*cdk8spostgrescluster.DatabaseGrantOptions{{Database: jsii.String("orders")}},
				Schemas: &[]*cdk8spostgrescluster.SchemaGrant{
					{Database: jsii.String("orders"), Tables: &[]cdk8spostgrescluster.TablePrivilege{cdk8spostgrescluster.TablePrivilege_SELECT}},
				},
			},
		},
		Pooler: &cdk8spostgrescluster.PoolerOptions{
			Instances:            jsii.Number(2),
			PoolMode:             cdk8spostgrescluster.PoolMode_TRANSACTION,
			DefaultPoolSize:      jsii.Number(40),
			MaxClientConnections: jsii.Number(2000),
			ReadOnly:             jsii.Bool(true),
		},
		// pgBackRest: a backup node on the cluster's own volume, and an encrypted off-site copy in S3.
		Backup: &cdk8spostgrescluster.BackupOptions{
			Repositories: &[]cdk8spostgrescluster.BackupRepository{
				cdk8spostgrescluster.BackupRepository_Volume(&cdk8spostgrescluster.VolumeRepositoryOptions{
					Size:             cdk8s.Size_Gibibytes(jsii.Number(200)),
					StorageClassName: jsii.String("standard"),
				}),
				cdk8spostgrescluster.BackupRepository_S3(&cdk8spostgrescluster.S3RepositoryOptions{
					Bucket:            jsii.String("acme-orders-pg"),
					Region:            jsii.String("eu-west-1"),
					CredentialsSecret: cdk8splus27.Secret_FromSecretName(chart, jsii.String("s3-credentials"), jsii.String("orders-db-s3")),
					EncryptionSecret:  cdk8splus27.Secret_FromSecretName(chart, jsii.String("s3-cipher"), jsii.String("orders-db-s3-cipher")),
					Retention:         cdk8spostgrescluster.BackupRetention_Days(jsii.Number(30)),
					Schedules: &cdk8spostgrescluster.BackupSchedules{
						Full:         jsii.String("0 2 * * 0"),
						Differential: jsii.String("0 2 * * 3"),
						Incremental:  jsii.String("0 */6 * * *"),
						TimeZone:     jsii.String("Europe/Berlin"),
					},
				}),
			},
			Schedules:      &cdk8spostgrescluster.BackupSchedules{Full: jsii.String("0 1 * * 0"), Incremental: jsii.String("0 1 * * 1-6")},
			ArchiveTimeout: cdk8s.Duration_Seconds(jsii.Number(60)),
		},
		Config: &cdk8spostgrescluster.NodeConfigProps{
			Resources: cdk8spostgrescluster.Resources_LARGE(),
			Database: &cdk8spostgrescluster.DatabaseSettings{
				Name:                    jsii.String("app"),
				Port:                    jsii.Number(5432),
				ListenAddress:           cdk8spostgrescluster.ListenAddress_ALL,
				LogLevel:                cdk8spostgrescluster.LogLevel_WARNING,
				LogFormat:               cdk8spostgrescluster.LogFormat_TEXT,
				LogStatementsSlowerThan: cdk8s.Duration_Seconds(jsii.Number(2)),
			},
			Connection: &cdk8spostgrescluster.ConnectionSettings{
				MaxConnections:               jsii.Number(200),
				SuperuserReservedConnections: jsii.Number(5),
				ClientAuth:                   cdk8spostgrescluster.ClientAuthMethod_SCRAM_SHA_256,
				ReplicationAuth:              cdk8spostgrescluster.ClientAuthMethod_CERT,
				HbaRules: &[]*cdk8spostgrescluster.HbaRule{
					{
						Type:     cdk8spostgrescluster.HbaConnectionType_HOSTSSL,
						Database: jsii.String("all"),
						User:     jsii.String("all"),
						Address:  jsii.String("169.254.0.0/16"),
						Method:   cdk8spostgrescluster.ClientAuthMethod_REJECT,
					},
				},
				ConnectTimeout:           cdk8s.Duration_Seconds(jsii.Number(30)),
				StatementTimeout:         cdk8s.Duration_Minutes(jsii.Number(5)),
				IdleInTransactionTimeout: cdk8s.Duration_Minutes(jsii.Number(10)),
				IdleSessionTimeout:       cdk8s.Duration_Hours(jsii.Number(12)),
				TcpKeepalives: &cdk8spostgrescluster.TcpKeepalives{
					Idle:     cdk8s.Duration_Seconds(jsii.Number(60)),
					Interval: cdk8s.Duration_Seconds(jsii.Number(10)),
					Count:    jsii.Number(6),
				},
				TlsMinVersion: cdk8spostgrescluster.TlsVersion_TLS_1_3,
			},
			Replication: &cdk8spostgrescluster.ReplicationSettings{
				Mode:                 cdk8spostgrescluster.ReplicationMode_SYNCHRONOUS,
				SynchronousStandbys:  jsii.Number(1),
				MaximumLagOnFailover: cdk8s.Size_Mebibytes(jsii.Number(16)),
				Slots:                jsii.Bool(true),
				MaxSlotWalKeepSize:   cdk8s.Size_Gibibytes(jsii.Number(20)),
				WalKeepSize:          cdk8s.Size_Gibibytes(jsii.Number(1)),
			},
			SharedMemory: &cdk8spostgrescluster.SharedMemorySettings{
				SharedBuffers: cdk8s.Size_Mebibytes(jsii.Number(768)),
				DevShmSize:    cdk8s.Size_Mebibytes(jsii.Number(512)),
				HugePages:     cdk8spostgrescluster.HugePages_OFF,
			},
			Parameters: &map[string]*string{
				"shared_preload_libraries": jsii.String("pg_stat_statements"),
				"pg_stat_statements.track": jsii.String("top"),
			},
		},
	})

	// What other constructs consume: the read-write host, its port and the credentials Secret.
	caConfigMap := "" // db.caConfigMapName ?? ''
	if name := db.CaConfigMapName(); name != nil {
		caConfigMap = *name
	}
	cdk8splus27.NewConfigMap(chart, jsii.String("app-settings"), &cdk8splus27.ConfigMapProps{
		Metadata: &cdk8s.ApiObjectMetadata{Name: jsii.String("orders-app-settings")},
		Data: &map[string]*string{
			"DATABASE_HOST":          db.PrimaryHost(),
			"DATABASE_PORT":          jsii.String(strconv.FormatFloat(*db.Port(), 'f', -1, 64)), // String(db.port)
			"DATABASE_NAME":          db.DatabaseName(),
			"DATABASE_READONLY_HOST": db.ReplicasHost(),
			"DATABASE_SSLMODE":       jsii.String("verify-full"),
			// The CA certificate alone (a ConfigMap): never a certificate's Secret, which holds a private key.
			"DATABASE_CA_CONFIGMAP": jsii.String(caConfigMap),
		},
	})
	return app
}

// panicMessage runs build, which must panic the way the jsii runtime reports a JavaScript
// exception to Go (panic(err) with err.Error() the JavaScript Error's message), and returns
// the panic's message; ok is false if build did not panic.
func panicMessage(build func()) (msg string, ok bool) {
	defer func() {
		switch r := recover().(type) {
		case nil:
		case error:
			msg, ok = r.Error(), true
		default:
			msg, ok = fmt.Sprint(r), true
		}
	}()
	build()
	return "", false
}

// errorCases tries the two bad props of test/languages/typescript-reference.ts and returns the
// messages Go received, one per case.
func errorCases() ([]string, error) {
	cases := []func(){
		func() {
			app := cdk8s.NewApp(nil)
			chart := cdk8s.NewChart(app, jsii.String("bad"), nil)
			cdk8spostgrescluster.NewPostgresCluster(chart, jsii.String("db"), &cdk8spostgrescluster.PostgresClusterProps{
				Replicas: &cdk8spostgrescluster.ReplicaSetOptions{Count: jsii.Number(-1)},
			})
		},
		func() {
			app := cdk8s.NewApp(nil)
			chart := cdk8s.NewChart(app, jsii.String("bad2"), nil)
			cdk8spostgrescluster.NewPostgresCluster(chart, jsii.String("db"), &cdk8spostgrescluster.PostgresClusterProps{
				Config: &cdk8spostgrescluster.NodeConfigProps{
					Connection: &cdk8spostgrescluster.ConnectionSettings{MaxConnections: jsii.Number(3)},
				},
			})
		},
	}
	messages := make([]string, 0, len(cases))
	for i, build := range cases {
		msg, ok := panicMessage(build)
		if !ok {
			return nil, fmt.Errorf("bad prop case %d was accepted", i+1)
		}
		messages = append(messages, msg)
	}
	return messages, nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run . OUTDIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "go smoke:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	outdir, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	defer jsii.Close() // stops the Node.js child process hosting the jsii kernel

	basic(filepath.Join(outdir, "basic")).Synth()
	production(filepath.Join(outdir, "production")).Synth()
	readme(filepath.Join(outdir, "readme")).Synth()

	messages, err := errorCases()
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(outdir, "errors.txt"), []byte(strings.Join(messages, "\n")+"\n"), 0o644)
}
