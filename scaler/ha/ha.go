package ha

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/scaler"
	"github.com/primetime-dev/primetime/scaler/configwatch"
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
	At     time.Time `json:"at"`
	Leader string    `json:"leader"`
	// Epoch is the Lease's transition count when the writer took the
	// Lease: a state of a lower epoch comes from a former leader (paused,
	// cut off) and is neither written over a later one nor served.
	Epoch     int64                      `json:"epoch"`
	Decisions []scaler.Published         `json:"decisions"`
	Baselines map[string]scaler.Baseline `json:"baselines,omitempty"`
	// Lessons are what the window reports taught "expect: learned"
	// windows, by learning group and target.
	Lessons map[string][]policies.Lesson `json:"lessons,omitempty"`
	// Reports are the latest window reports (the calendar's past
	// windows), at most scaler.MaxBookReports.
	Reports []scaler.ReportRecord `json:"reports,omitempty"`
	// LeadAdvice is the lead time each target's last late window would
	// have needed.
	LeadAdvice map[string]scaler.LeadAdvice `json:"leadAdvice,omitempty"`
	// Config is what the configuration store hands over: the InvalidEntry
	// Events recorded, the last good version of rejected entries.
	Config configwatch.Memory `json:"config,omitempty"`
	// Latched, when set, yields more baselines to write, read while the
	// state is encoded (the engine's RangeBaselines) rather than copied
	// into Baselines first; a decoded state has them in Baselines. A key
	// yielded twice keeps its last value.
	Latched func(yield func(key string, b scaler.Baseline) bool) `json:"-"`
}

// ErrFenced is the error of a state write refused because a leader of a
// later term wrote the state since.
var ErrFenced = errors.New("fenced")

// annotationEpoch holds the state's epoch on its ConfigMap, so that a
// write can be checked without decoding the state.
const annotationEpoch = "primetime.dev/epoch"

// encode writes st as gzipped JSON, one value at a time: the state of
// 10,000 targets is tens of megabytes of JSON, never held whole.
func encode(st *State) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	w := &jsonStream{w: bufio.NewWriterSize(zw, 64<<10)}
	w.enc = json.NewEncoder(w.w)
	w.raw(`{"at":`)
	w.value(st.At)
	w.raw(`,"leader":`)
	w.value(st.Leader)
	w.raw(`,"epoch":`)
	w.value(st.Epoch)
	w.raw(`,"decisions":[`)
	for i := range st.Decisions {
		if i > 0 {
			w.raw(",")
		}
		w.value(&st.Decisions[i])
	}
	w.raw(`],"baselines":{`)
	n := 0
	baseline := func(k string, b scaler.Baseline) bool {
		if n > 0 {
			w.raw(",")
		}
		n++
		w.value(k)
		w.raw(":")
		w.value(b)
		return w.err == nil
	}
	for k, b := range st.Baselines {
		if !baseline(k, b) {
			break
		}
	}
	if st.Latched != nil && w.err == nil {
		st.Latched(baseline)
	}
	w.raw(`},"lessons":`)
	w.value(st.Lessons)
	w.raw(`,"reports":`)
	w.value(st.Reports)
	w.raw(`,"leadAdvice":`)
	w.value(st.LeadAdvice)
	w.raw(`,"config":`)
	w.value(st.Config)
	w.raw("}\n")
	if w.err == nil {
		w.err = w.w.Flush()
	}
	if w.err != nil {
		return nil, w.err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// jsonStream writes JSON piece by piece, keeping the first error.
type jsonStream struct {
	w   *bufio.Writer
	enc *json.Encoder
	err error
}

func (s *jsonStream) raw(text string) {
	if s.err == nil {
		_, s.err = s.w.WriteString(text)
	}
}

// value writes v (json.Encoder ends it with a newline, which JSON allows
// between tokens).
func (s *jsonStream) value(v any) {
	if s.err == nil {
		s.err = s.enc.Encode(v)
	}
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

// Publish writes the state ConfigMap, on the version it read (a race with
// another writer fails on the resourceVersion), unless it holds a later
// leader's state: then it returns ErrFenced and writes nothing.
//
// A state too large for a ConfigMap is written without its latched
// baselines, and Publish returns an error wrapping ErrBaselinesLeftOut
// once the write succeeded: the followers still serve the decisions, and
// a new leader takes each baseline again from the load before its floor
// (never from the spike). Only decisions that do not fit by themselves
// write nothing.
func Publish(ctx context.Context, client kubernetes.Interface, namespace string, st *State) error {
	data, err := encode(st)
	if err != nil {
		return err
	}
	var leftOut error
	if len(data) > maxStateBytes && (len(st.Baselines) > 0 || st.Latched != nil) {
		full := len(data)
		trimmed := *st
		trimmed.Baselines, trimmed.Latched = nil, nil
		if data, err = encode(&trimmed); err != nil {
			return err
		}
		leftOut = fmt.Errorf("%w: the state takes %d kB gzipped with them, more than the %d kB a ConfigMap holds", ErrBaselinesLeftOut, full>>10, maxStateBytes>>10)
	}
	if len(data) > maxStateBytes {
		return fmt.Errorf("the decisions of %d targets take %d kB gzipped, more than a ConfigMap holds", len(st.Decisions), len(data)>>10)
	}
	if err := write(ctx, client, namespace, st.Epoch, data); err != nil {
		return err
	}
	return leftOut
}

// ErrBaselinesLeftOut says a state was handed over without its latched
// baselines, too many for a ConfigMap.
var ErrBaselinesLeftOut = errors.New("latched baselines left out of the handed-over state")

// write puts data in the state ConfigMap at epoch, fenced as Publish says.
func write(ctx context.Context, client kubernetes.Interface, namespace string, epoch int64, data []byte) error {
	cms := client.CoreV1().ConfigMaps(namespace)
	cm, err := cms.Get(ctx, StateName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = cms.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: StateName, Namespace: namespace,
				Labels:      map[string]string{"app.kubernetes.io/name": "primetime", "app.kubernetes.io/component": "decisions"},
				Annotations: map[string]string{annotationEpoch: strconv.FormatInt(epoch, 10)}},
			BinaryData: map[string][]byte{stateKey: data},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	if theirs := epochOf(cm); theirs > epoch {
		return fmt.Errorf("%w: the state was written by a leader of epoch %d, after this one's (%d)", ErrFenced, theirs, epoch)
	}
	cm.BinaryData = map[string][]byte{stateKey: data}
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[annotationEpoch] = strconv.FormatInt(epoch, 10)
	_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	return err
}

// epochOf reads the epoch annotation of a state ConfigMap (0 when none:
// a version of primetime that did not fence).
func epochOf(cm *corev1.ConfigMap) int64 {
	v, _ := strconv.ParseInt(cm.Annotations[annotationEpoch], 10, 64)
	return v
}

// Load reads the last state written, if any.
func Load(ctx context.Context, client kubernetes.Interface, namespace string) (*State, error) {
	st, _, err := loadWithEpoch(ctx, client, namespace)
	return st, err
}

// loadWithEpoch is Load with the epoch the state ConfigMap was written at
// (its annotation; 0 when there is none), read even when the state itself
// cannot be decoded.
func loadWithEpoch(ctx context.Context, client kubernetes.Interface, namespace string) (*State, int64, error) {
	cm, err := client.CoreV1().ConfigMaps(namespace).Get(ctx, StateName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	st, err := fromConfigMap(cm)
	return st, epochOf(cm), err
}

func fromConfigMap(cm *corev1.ConfigMap) (*State, error) {
	data, ok := cm.BinaryData[stateKey]
	if !ok {
		return nil, fmt.Errorf("ConfigMap %s/%s has no %s", cm.Namespace, cm.Name, stateKey)
	}
	return decode(data)
}

// Follower serves the leader's decisions on a replica that does not lead.
type Follower struct {
	board   *scaler.Board
	book    *scaler.ReportBook
	lessons func(map[string][]policies.Lesson)
	synced  cache.InformerSynced
	now     func() time.Time
	mu      sync.Mutex
	epoch   int64
	receipt time.Time // by this replica's clock
}

// Follow watches the state ConfigMap and publishes the leader's decisions
// on board, except while leading() (the leader publishes its own). A
// state of an epoch lower than one already seen is ignored (a former
// leader's). The decisions' times are moved to this replica's clock (by
// when the state arrived), so that their age is judged without comparing
// two machines' clocks.
func Follow(ctx context.Context, client kubernetes.Interface, namespace string, board *scaler.Board, leading func() bool, log *zap.Logger) *Follower {
	f := &Follower{board: board, now: time.Now}
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
		f.take(st, log)
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    apply,
		UpdateFunc: func(_, obj any) { apply(obj) },
	})
	factory.Start(ctx.Done())
	f.synced = inf.HasSynced
	return f
}

// take serves a state received from the leader.
func (f *Follower) take(st *State, log *zap.Logger) {
	received := f.now()
	f.mu.Lock()
	if st.Epoch < f.epoch {
		f.mu.Unlock()
		log.Warn("ignoring a former leader's decisions", zap.String("leader", st.Leader), zap.Int64("epoch", st.Epoch), zap.Int64("latest", f.epoch))
		return
	}
	f.epoch, f.receipt = st.Epoch, received
	book, lessons := f.book, f.lessons
	f.mu.Unlock()
	if book != nil {
		book.Merge(st.Reports)
		book.MergeAdvice(st.LeadAdvice)
	}
	if lessons != nil && len(st.Lessons) > 0 {
		lessons(st.Lessons)
	}
	offset := received.Sub(st.At)
	decisions := make([]scaler.Published, len(st.Decisions))
	for i, p := range st.Decisions {
		p.At = p.At.Add(offset)
		decisions[i] = p
	}
	f.board.Replace(decisions, received)
}

// KeepReportsIn makes the follower keep the leader's window reports in
// book (the calendar page's past windows).
func (f *Follower) KeepReportsIn(book *scaler.ReportBook) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.book = book
}

// KeepLessonsWith makes the follower hand the leader's lessons to keep
// (the engine's ImportLessons): its calendar then shows what the leader
// learned, and it leads with it.
func (f *Follower) KeepLessonsWith(keep func(map[string][]policies.Lesson)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lessons = keep
}

// Synced reports whether the state ConfigMap has been read once.
func (f *Follower) Synced() bool { return f.synced() }

// Fresh reports whether the last state received is younger than maxAge,
// by this replica's clock.
func (f *Follower) Fresh(maxAge time.Duration) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.receipt.IsZero() && f.now().Sub(f.receipt) < maxAge
}
