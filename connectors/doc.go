// Package connectors defines the contracts every source and target speaks:
// sources stream Arrow record batches, targets take ops. One subpackage per
// system kind implements them; the engine never reaches past these types.
// A source may also guess its size before reading (Estimator), which the
// engine uses to size its tables and show progress.
package connectors
