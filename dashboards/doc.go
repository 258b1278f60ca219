// Package dashboards holds tentaclesync.json, a Grafana dashboard for
// tentaclesync's metrics in InfluxDB 1.x (InfluxQL). Its tests check the
// model; the integration test (integration/) runs every panel's query
// against a real InfluxDB.
package dashboards
