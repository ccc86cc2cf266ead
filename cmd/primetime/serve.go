//go:build !simulateonly

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
	"k8s.io/client-go/tools/cache"
	basecmd "sigs.k8s.io/custom-metrics-apiserver/pkg/cmd"

	"github.com/primetime-dev/primetime/policies/config"
	"github.com/primetime-dev/primetime/scaler"
	"github.com/primetime-dev/primetime/scaler/actuate"
	"github.com/primetime-dev/primetime/scaler/calendar"
	"github.com/primetime-dev/primetime/scaler/configwatch"
	"github.com/primetime-dev/primetime/scaler/ha"
	"github.com/primetime-dev/primetime/scaler/metricsapi"
	"github.com/primetime-dev/primetime/sources"
)

func runServe(ctx context.Context, o serveOptions, adapter *basecmd.AdapterBase) error {
	log, err := newLogger(o.logLevel)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	// What serves (informers, the APIs) lives until the leader has handed
	// over: a signal first stops acting and releases the Lease.
	serving, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	kube, err := connect(serving, o.kubeconfig, o.kubeQPS, o.kubeBurst, log)
	if err != nil {
		return err
	}
	defer kube.events.Shutdown()
	if o.identity == "" {
		o.identity = ha.Identity()
	}
	if err := o.timing.Validate(); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerElectionMetrics(reg)
	srcMetrics := sources.NewMetrics(reg)
	metrics := scaler.NewMetrics(reg)
	board := &scaler.Board{}

	// Targets' queries are expanded once, as each ConfigMap is read:
	// %%cluster%% is --cluster, %%env_NAME%% the variable NAME of this
	// process.
	loader := config.Loader{Cluster: o.cluster, LookupEnv: os.LookupEnv}
	store := configwatch.NewStore(kube.recorder, log.Named("config"))
	store.Loader = loader
	store.StopReporting() // the leader reports InvalidEntry, once
	synced := configwatch.Watch(serving, kube.client, o.watchNamespaces, store)
	actuator, actuatorSynced, err := kube.actuator(serving, o.watchNamespaces, actuate.NewMetrics(reg), log.Named("actuate"))
	if err != nil {
		return err
	}
	synced = append(synced, actuatorSynced...)
	actuator.Placeholders = &actuate.Placeholders{Client: kube.client, Image: o.placeholders.image, PriorityClass: o.placeholders.priorityClass,
		Recorder: kube.recorder, Log: log.Named("placeholders")}
	actuator.Ready = calendar.WorkloadReady(kube.client)

	poller := sources.NewPoller(sources.NewCache())
	if err := o.sources.registerSources(serving, poller, o.interval, kube.config, kube.client, srcMetrics, log); err != nil {
		return err
	}
	history := &scaler.HistoryCache{Poller: poller, Horizon: scaler.HistoryHorizon, Log: log.Named("history")}
	book := &scaler.ReportBook{}
	actuator.Late = book.Advise
	engine := &scaler.Engine{
		Interval: o.interval, Cluster: o.cluster, Config: store, Poller: poller,
		Replicas: actuator, History: history, Actuator: actuator, Board: board,
		Metrics: metrics, Sources: srcMetrics, Log: log.Named("engine"),
		Reports: scaler.ReportSinks{scaler.NewWindowReporter(reg, kube.recorder, store, log.Named("reports"), o.carbon.perReplicaHour), book},
	}
	book.Lessons = engine.ExportLessons
	leader := &ha.Leader{
		Identity: o.identity, Namespace: o.namespace, Client: kube.client, Config: store, Engine: engine,
		Poller: poller, History: history, Actuator: actuator, Board: board, Metrics: metrics, Store: store,
		Reports: book, Interval: o.interval, Recorder: kube.recorder, Log: log.Named("leader"),
	}
	election, healthz, err := o.election(kube, log)
	if err != nil {
		return err
	}

	// Served values are kept as long as a follower may wait for a dead
	// leader's successor.
	maxAge := max(4*o.interval, o.timing.WorstTakeover()+o.interval+5*time.Second)
	follower := ha.Follow(serving, kube.client, o.namespace, board, leader.Leading, log.Named("ha"))
	follower.KeepReportsIn(book)
	follower.KeepLessonsWith(engine.ImportLessons)
	var stopping atomic.Bool
	context.AfterFunc(ctx, func() { stopping.Store(true) }) // leave the Service at once
	ready := leader.ReadyCheck(func() bool { return allSynced(synced) }, follower, maxAge, stopping.Load)
	status := scaler.NewStatusServer(o.metricsAddr, reg, ready, healthz)
	status.AddSeries(metrics.WriteTargetSeries)
	if o.profiling {
		status.Profiling()
	}
	status.Handle("/reports", book) // what `plan --reports` reads
	status.Handle("/calendar", &calendar.Page{Config: store, Board: board, Ready: calendar.WorkloadReady(kube.client), Reports: book, Learned: engine.Learned, Loader: loader})
	status.Start(log)
	defer status.Shutdown()

	// The external metrics API, on every replica.
	apiErr := serveExternalMetrics(serving, adapter, o.kubeconfig, metricsapi.NewProvider(board, maxAge, time.Now))
	// KEDA's external scaler, from the same board, on every replica too.
	kedaErr, err := o.keda.serve(serving, board, maxAge, log.Named("keda"))
	if err != nil {
		return err
	}

	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return errors.New("the ConfigMap and HPA informers did not sync")
	}
	snap := store.Snapshot()
	log.Info("configuration loaded", zap.Int("targets", len(snap.Targets)), zap.Int("windows", len(snap.Windows)))

	replica := make(chan error, 1)
	go func() { replica <- ha.RunReplica(ctx, election, leader) }()
	select {
	case err := <-apiErr:
		return fmt.Errorf("external metrics API server: %w", err)
	case err := <-kedaErr:
		return fmt.Errorf("KEDA external scaler (--keda-addr): %w", err)
	case err := <-replica:
		if ctx.Err() == nil {
			log.Error("stopping: a replica that is no longer leader must not act", zap.Error(err))
			return err
		}
		// A signal: the work has stopped and the Lease is released; drain
		// the APIs.
		log.Info("shut down: acting stopped, Lease released; draining the APIs")
		stopServing()
		select {
		case <-apiErr:
		case <-time.After(10 * time.Second):
		}
		return nil
	}
}
