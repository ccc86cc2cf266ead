//go:build !simulateonly

package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"

	"github.com/primetime-dev/primetime/scaler/ha"
)

// installElectionFlags adds kube-controller-manager's leader election
// timing flags.
func (o *serveOptions) installElectionFlags(f *pflag.FlagSet) {
	d := ha.DefaultTiming
	f.DurationVar(&o.timing.LeaseDuration, "leader-elect-lease-duration", d.LeaseDuration, "how long a follower waits after the last renewal before taking the Lease over")
	f.DurationVar(&o.timing.RenewDeadline, "leader-elect-renew-deadline", d.RenewDeadline, "how long a leader that cannot renew the Lease goes on leading")
	f.DurationVar(&o.timing.RetryPeriod, "leader-elect-retry-period", d.RetryPeriod, "time between two tries to acquire or renew the Lease")
}

// election returns the leader election (nil without --leader-elect), on
// a clientset of its own, and the /healthz check that goes with it.
func (o *serveOptions) election(kube *kubeClients, log *zap.Logger) (*ha.Election, func(*http.Request) error, error) {
	if !o.leaderElect {
		return nil, nil, nil
	}
	client, err := kubernetes.NewForConfig(rest.CopyConfig(kube.config))
	if err != nil {
		return nil, nil, err
	}
	// /healthz fails once a leader has not renewed for this long past its
	// lease: it is stuck, and the kubelet restarts it.
	healthz := leaderelection.NewLeaderHealthzAdaptor(o.timing.LeaseDuration)
	e := &ha.Election{Client: client, Namespace: o.namespace, Identity: o.identity, Timing: o.timing, Healthz: healthz, Log: log.Named("election")}
	return e, healthz.Check, nil
}

// electionMetrics exports client-go's leader election metric
// (leader_election_master_status{name}, as Kubernetes components do).
type electionMetrics struct{ status *prometheus.GaugeVec }

func (m electionMetrics) NewLeaderMetric() leaderelection.LeaderMetric { return m }
func (m electionMetrics) On(name string)                               { m.status.WithLabelValues(name).Set(1) }
func (m electionMetrics) Off(name string)                              { m.status.WithLabelValues(name).Set(0) }
func (m electionMetrics) SlowpathExercised(string)                     {}

// registerElectionMetrics makes client-go's elector report to reg; client-go
// keeps one provider per process.
func registerElectionMetrics(reg prometheus.Registerer) {
	m := electionMetrics{status: prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "leader_election_master_status",
		Help: "1 while this replica holds the Lease of the named election, as client-go's elector reports it.",
	}, []string{"name"})}
	reg.MustRegister(m.status)
	leaderelection.SetProvider(m)
}
