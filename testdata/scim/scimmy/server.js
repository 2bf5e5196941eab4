// A lenient SCIM 2.0 server for idsync's tests: scimmy + scimmy-routers
// (written by others) over an in-memory store (ours). It listens on
// 127.0.0.1 on a free port, prints "listening PORT", and serves plain HTTP:
// the Go test harness puts a TLS front with authentication and fault
// injection before it (connectors/scim/scimtest).
import express from "express";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";

const users = new Map();
const groups = new Map();
let next = 0;

const notFound = (id) => new SCIMMY.Types.Error(404, null, `Resource ${id} not found`);

// plain turns a parsed SCIMMY schema instance into a stored record.
const plain = (instance) => JSON.parse(JSON.stringify(instance));

function handlers(store, unique, onDelete) {
    return {
        egress: (resource) => {
            if (resource.id) {
                if (!store.has(resource.id)) throw notFound(resource.id);
                return store.get(resource.id);
            }
            const all = [...store.values()];
            return resource.filter ? resource.filter.match(all) : all;
        },
        ingress: (resource, instance) => {
            const record = plain(instance);
            const taken = [...store.values()].some((r) => r.id !== resource.id &&
                String(r[unique] ?? "").toLowerCase() === String(record[unique] ?? "").toLowerCase());
            if (taken) throw new SCIMMY.Types.Error(409, "uniqueness", `${unique} is already in use`);
            if (resource.id) {
                if (!store.has(resource.id)) throw notFound(resource.id);
                record.id = resource.id;
            } else {
                record.id = String(++next);
            }
            store.set(record.id, record);
            return record;
        },
        degress: (resource) => {
            if (!store.delete(resource.id)) throw notFound(resource.id);
            onDelete?.(resource.id);
        },
    };
}

SCIMMY.Resources.declare(SCIMMY.Resources.User, {
    ...handlers(users, "userName", (id) => {
        // Like a real app, a deleted user leaves its groups.
        for (const g of groups.values()) g.members = (g.members ?? []).filter((m) => m.value !== id);
    }),
    extensions: [{schema: SCIMMY.Schemas.EnterpriseUser, required: false}],
});
SCIMMY.Resources.declare(SCIMMY.Resources.Group, handlers(groups, "displayName"));
SCIMMY.Config.set({patch: true, filter: {supported: true, maxResults: 200}});

const app = express();
// A read-back hook for tests: every user as stored. Declared before the
// SCIM routers, which would otherwise answer for it.
app.get("/_users", (req, res) => res.json(Object.fromEntries(users)));
app.get("/_groups", (req, res) => res.json(Object.fromEntries(groups)));
app.use("/", new SCIMMYRouters({type: "bearer", handler: () => "idsync-tests"}));

const server = app.listen(0, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
