package ground

import "fmt"

// Opt is a value that may be absent. It stands where other code would use
// a -1 or a NaN sentinel.
type Opt[T any] struct {
	V  T
	OK bool
}

// Some returns a present value.
func Some[T any](v T) Opt[T] { return Opt[T]{V: v, OK: true} }

// None returns an absent value.
func None[T any]() Opt[T] { return Opt[T]{} }

// Or returns the value, or def when absent.
func (o Opt[T]) Or(def T) T {
	if o.OK {
		return o.V
	}
	return def
}

// String prints the value, or "-" when absent.
func (o Opt[T]) String() string {
	if !o.OK {
		return "-"
	}
	return fmt.Sprint(o.V)
}
