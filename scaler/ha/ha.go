// Package ha lets several primetime replicas run side by side.
//
// One replica leads, elected on a Lease: it alone polls the load sources
// (so Datadog is queried once, whatever the replica count), evaluates and
// acts. Every replica serves the external metrics API, and all of them
// serve the leader's values: the leader writes its decisions, with the
// baselines it latched for running windows, into one ConfigMap of its own
// namespace, gzipped (10,000 targets fit in a few hundred kB), and the
// followers watch it. This was chosen over followers computing their own
// decisions (they would query Datadog too, and could disagree with the
// leader mid-ramp) and over proxying to the leader (a request would then
// depend on the leader's network path). When a leader dies, its last
// decisions keep being served until they are older than the API's limit,
// then the API answers errors and the HPA holds; the next leader starts
// from the state the last one wrote, so a ramp goes on where it was.
package ha

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/utils/clock"

	"github.com/primetime-dev/primetime/scaler"
)

// Names of the objects primetime keeps in its own namespace.
const (
	LeaseName     = "primetime-leader"
	StateName     = "primetime-decisions"
	stateKey      = "state.json.gz"
	maxStateBytes = 900 << 10
)

// State is what the leader hands to followers and to its successor.
type State struct {
	At        time.Time                  `json:"at"`
	Leader    string                     `json:"leader"`
	Decisions []scaler.Published         `json:"decisions"`
	Baselines map[string]scaler.Baseline `json:"baselines,omitempty"`
}

func encode(st *State) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(st); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decode(data []byte) (*State, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.NewDecoder(io.LimitReader(zr, 64<<20)).Decode(&st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Publish writes the state ConfigMap.
func Publish(ctx context.Context, client kubernetes.Interface, namespace string, st *State) error {
	data, err := encode(st)
	if err != nil {
		return err
	}
	if len(data) > maxStateBytes {
		return fmt.Errorf("the decisions of %d targets take %d kB gzipped, more than a ConfigMap holds", len(st.Decisions), len(data)>>10)
	}
	cms := client.CoreV1().ConfigMaps(namespace)
	cm, err := cms.Get(ctx, StateName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = cms.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: StateName, Namespace: namespace,
				Labels: map[string]string{"app.kubernetes.io/name": "primetime", "app.kubernetes.io/component": "decisions"}},
			BinaryData: map[string][]byte{stateKey: data},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	cm.BinaryData = map[string][]byte{stateKey: data}
	_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	return err
}

// Load reads the last state written, if any.
func Load(ctx context.Context, client kubernetes.Interface, namespace string) (*State, error) {
	cm, err := client.CoreV1().ConfigMaps(namespace).Get(ctx, StateName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return fromConfigMap(cm)
}

func fromConfigMap(cm *corev1.ConfigMap) (*State, error) {
	data, ok := cm.BinaryData[stateKey]
	if !ok {
		return nil, fmt.Errorf("ConfigMap %s/%s has no %s", cm.Namespace, cm.Name, stateKey)
	}
	return decode(data)
}

// Follow watches the state ConfigMap and publishes the leader's decisions
// on board, except while leading() (the leader publishes its own).
func Follow(ctx context.Context, client kubernetes.Interface, namespace string, board *scaler.Board, leading func() bool, log *zap.Logger) cache.InformerSynced {
	factory := informers.NewSharedInformerFactoryWithOptions(client, time.Minute, informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", StateName).String()
		}))
	inf := factory.Core().V1().ConfigMaps().Informer()
	apply := func(obj any) {
		cm, ok := obj.(*corev1.ConfigMap)
		if !ok || cm.Name != StateName || leading() {
			return
		}
		st, err := fromConfigMap(cm)
		if err != nil {
			log.Warn("cannot read the leader's decisions", zap.Error(err))
			return
		}
		board.Replace(st.Decisions, st.At)
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    apply,
		UpdateFunc: func(_, obj any) { apply(obj) },
	})
	factory.Start(ctx.Done())
	return inf.HasSynced
}

// RunElection campaigns for the Lease until ctx ends, with DefaultTiming.
// lead runs while this replica leads; when leadership is lost, lost is
// called (the caller exits, so that a replica never acts without the Lease).
func RunElection(ctx context.Context, client kubernetes.Interface, namespace, identity string, lead func(context.Context), lost func(), log *zap.Logger) error {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: LeaseName, Namespace: namespace},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: identity},
	}
	e, err := NewElector(lock, DefaultTiming, clock.RealClock{}, log)
	if err != nil {
		return err
	}
	if e.Run(ctx, lead) {
		lost()
	}
	return nil
}
