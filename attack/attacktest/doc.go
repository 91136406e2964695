// Package attacktest provides tiny models with exact input gradients and a
// conformance suite for implementations of attack.Attack.
//
// # Overview
//
// Linear is a linear softmax classifier, logits = W·x + B, whose input
// gradient is W^T·∂loss/∂z computed exactly on the host; Scaled multiplies
// a model's logits by a constant (×1e4 saturates the float32 softmax, so
// cross-entropy gradients become exactly zero while margin-loss gradients do
// not); LogitsOnly hides a model's gradients, leaving a plain nn.Classifier
// for score-based attacks.
//
// Check runs the suite against any attack and any model: outputs stay in
// the declared bounds and ε-ball, inputs and model are left unchanged, the
// same call gives bit-identical results, cancellation is honoured, and
// invalid input is rejected with an error. Packages that add attacks or
// models (quantized, defended) run it from their own tests:
//
//	attacktest.Check(t, attack.PGD{Eps: 0.3}, model, x, y)
//
// # Invariants
//
// The models are deterministic, safe for concurrent use, and never modify
// their inputs. Check never modifies x or y.
package attacktest
