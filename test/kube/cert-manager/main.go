// Command cert-manager-controller runs a fixed set of cert-manager's controllers for the
// end-to-end suite's Kubernetes control plane. It is our own small main around the upstream
// module github.com/cert-manager/cert-manager, used as a library through its public packages:
// each controller package registers a constructor in pkg/controller's registry (Known()) when it
// is imported, and pkg/controller.NewContextFactory builds the clients and shared informers they
// use. Only the SelfSigned and CA issuers and the Certificate lifecycle are linked in; there is
// no leader election, no webhook, no healthz server and no configuration file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/klog/v2"

	"github.com/cert-manager/cert-manager/pkg/controller"
	"github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	crca "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	crselfsigned "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	"github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	"github.com/cert-manager/cert-manager/pkg/controller/issuers"
	logf "github.com/cert-manager/cert-manager/pkg/logs"

	// The issuers and clusterissuers controllers look issuer types up in pkg/issuer's registry;
	// these two imports register the CA and SelfSigned types there.
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
)

// controllers are the registry names we run. Importing a package above is what puts its name in
// controller.Known(); naming its constant here keeps the two lists from drifting apart.
var controllers = []string{
	issuers.ControllerName,         // Issuer Ready condition (request controllers wait for it)
	clusterissuers.ControllerName,  // the same for ClusterIssuers
	approver.ControllerName,        // approves every CertificateRequest (nothing is signed otherwise)
	crca.CRControllerName,          // signs approved requests of CA issuers
	crselfsigned.CRControllerName,  // signs approved requests of SelfSigned issuers
	trigger.ControllerName,         // decides when a Certificate needs (re)issuing
	keymanager.ControllerName,      // keeps the next private key in a temporary Secret
	requestmanager.ControllerName,  // creates the CertificateRequest for the next revision
	issuing.ControllerName,         // writes the signed certificate into the target Secret
	readiness.ControllerName,       // sets the Certificate's Ready condition
	revisionmanager.ControllerName, // prunes old CertificateRequests (revisionHistoryLimit)
}

const workers = 5 // workers per controller, as upstream's default

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the API server to work against (required)")
	clusterNamespace := flag.String("cluster-resource-namespace", "cert-manager",
		"namespace where ClusterIssuers find their Secrets (e.g. a CA ClusterIssuer's key pair)")
	metricsAddr := flag.String("metrics-listen-address", "127.0.0.1:19402",
		"address of the Prometheus /metrics endpoint; empty disables it")
	verbosity := flag.String("v", "2", "log verbosity (cert-manager: 2 info, 4 debug)")
	flag.Parse()
	if *kubeconfig == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: cert-manager-controller --kubeconfig FILE [flags]")
		flag.PrintDefaults()
		os.Exit(2)
	}

	// klog owns the verbosity; give it a private flag set so only our flags are public.
	klogFlags := flag.NewFlagSet("klog", flag.ExitOnError)
	klog.InitFlags(klogFlags)
	if err := klogFlags.Set("v", *verbosity); err != nil {
		fmt.Fprintln(os.Stderr, "--v:", err)
		os.Exit(2)
	}
	logf.InitLogs()
	defer logf.FlushLogs()

	// SIGTERM or Ctrl-C cancels the context and every controller drains its queue and returns.
	// After the first signal the default handling is back, so a second one kills at once.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	context.AfterFunc(ctx, stop)
	ctx = logf.NewContext(ctx, logf.Log, "cert-manager-controller")

	if err := run(ctx, *kubeconfig, *clusterNamespace, *metricsAddr); err != nil {
		logf.Log.Error(err, "cert-manager-controller failed")
		logf.FlushLogs()
		os.Exit(1)
	}
	logf.Log.Info("stopped")
}

func run(ctx context.Context, kubeconfig, clusterNamespace, metricsAddr string) error {
	log := logf.FromContext(ctx)
	factory, err := controller.NewContextFactory(ctx, controller.ContextOptions{
		Kubeconfig:         kubeconfig,
		KubernetesAPIQPS:   20, // upstream's client defaults
		KubernetesAPIBurst: 50,
		IssuerOptions:      controller.IssuerOptions{ClusterResourceNamespace: clusterNamespace},
		// The trigger controller waits this long before retrying a failed issuance (upstream's
		// default; zero would retry in a hot loop).
		CertificateOptions: controller.CertificateOptions{CertificateRequestMinimumBackoffDuration: time.Hour},
	})
	if err != nil {
		return err
	}
	// A Context of our own only to reach the shared informer factories and metrics; every
	// controller builds its own from the factory, with its name as the client's user agent.
	shared, err := factory.Build()
	if err != nil {
		return err
	}

	g, gctx := errgroup.WithContext(ctx)
	for _, name := range controllers {
		construct, ok := controller.Known()[name]
		if !ok {
			return fmt.Errorf("controller %q is not linked in", name)
		}
		c, err := construct(factory) // registers the informers the controller needs
		if err != nil {
			return fmt.Errorf("controller %s: %w", name, err)
		}
		g.Go(func() error {
			log.Info("starting controller", "controller", name)
			// Run returns an error if its caches never synced, as happens when we stop early.
			if err := c.Run(workers, gctx); err != nil && gctx.Err() == nil {
				return fmt.Errorf("controller %s: %w", name, err)
			}
			return nil
		})
	}

	if metricsAddr != "" {
		ln, err := net.Listen("tcp", metricsAddr)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		// The collectors report each Certificate's and Issuer's state (expiry, readiness).
		cm := shared.SharedInformerFactory.Certmanager().V1()
		shared.Metrics.SetupCertificateCollector(cm.Certificates().Lister())
		shared.Metrics.SetupIssuerCollector(cm.Issuers().Lister())
		shared.Metrics.SetupClusterIssuerCollector(cm.ClusterIssuers().Lister())
		srv := shared.Metrics.NewServer(ln)
		g.Go(func() error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("metrics: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return srv.Shutdown(shutdown)
		})
		log.Info("serving metrics", "address", ln.Addr().String())
	}

	// Informers start only once every controller has asked for the ones it needs.
	shared.SharedInformerFactory.Start(gctx.Done())
	shared.KubeSharedInformerFactory.Start(gctx.Done())
	err = g.Wait()
	shared.KubeSharedInformerFactory.Shutdown()
	shared.SharedInformerFactory.Shutdown()
	return err
}
