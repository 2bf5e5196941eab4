// Package deploy holds what running idsync as a service needs: a
// Dockerfile, a systemd unit, Prometheus alerting rules and a Grafana
// dashboard. Its test checks that the rules and the dashboard only use
// metrics idsync exports.
package deploy
