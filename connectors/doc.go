// Package connectors defines the contracts every source and target speaks:
// sources stream Arrow record batches, targets take ops. One subpackage per
// system kind implements them; the engine never reaches past these types.
package connectors
