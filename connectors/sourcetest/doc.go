// Package sourcetest holds helpers shared by source connector tests.
package sourcetest
