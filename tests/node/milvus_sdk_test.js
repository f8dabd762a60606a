// tests/node/milvus_sdk_test.js — drives `pixseek serve` through the official
// Milvus Node SDK's REST client (HttpClient of @zilliz/milvus2-sdk-node), the
// way an application written for Milvus would, and checks every answer:
// collections (quick setup and custom schema), insert, HNSW and IVF_FLAT
// indexes, search with filters / partitions / several query vectors against
// a brute-force oracle, query with count(*) and the default limit, get,
// upsert, delete, partitions, describe/list/has/stats, rename, drop, and
// bad requests that must come back with Milvus error codes while the server
// stays up.
//
//   node tests/node/milvus_sdk_test.js http://127.0.0.1:PORT [USER PASSWORD]
//
// USER/PASSWORD: the server runs with --token USER:PASSWORD (the token a
// Milvus client sends for username + password). Prints one "ok: ..." line per
// check group; exits 1 with the failing check on the first failure.
'use strict';
const assert = require('node:assert/strict');
const { HttpClient, HttpError } = require('@zilliz/milvus2-sdk-node');

const endpoint = process.argv[2];
const [user, password] = process.argv.slice(3);
if (!endpoint) {
  console.error('usage: node milvus_sdk_test.js http://127.0.0.1:PORT [USER PASSWORD]');
  process.exit(2);
}
const auth = user ? { username: user, password } : {};
const client = new HttpClient({ endpoint, ...auth });
const int64Client = new HttpClient({ endpoint, ...auth, acceptInt64: true });

const DIM = 8;
const N = 200;
const COLORS = ['red', 'green', 'blue'];

// deterministic vectors (xorshift32), so failures reproduce
let seed = 12345;
function rnd() {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed / 4294967296;
}
const vectors = Array.from({ length: N }, () => Array.from({ length: DIM }, () => rnd()));
const f32 = (x) => Math.fround(x);
function l2(a, b) { // squared L2 in float32 steps, as the engine computes it
  let s = 0;
  for (let i = 0; i < a.length; i++) { const d = f32(f32(a[i]) - f32(b[i])); s += d * d; }
  return s;
}
// the exact top-k primary keys (as strings) among rows passing keep(row)
function bruteForce(q, k, rows, keep = () => true) {
  return rows.filter(keep).map((r) => ({ pk: String(r.pk), d: l2(q, r.emb) }))
    .sort((a, b) => a.d - b.d || Number(a.pk) - Number(b.pk)).slice(0, k).map((h) => h.pk);
}

let rows = vectors.map((emb, i) => ({ pk: i, color: COLORS[i % 3], price: i, tags: [`t${i % 5}`], emb }));

async function ok(res, what) {
  assert.equal(res.code, 0, `${what}: ${JSON.stringify(res)}`);
  return res.data;
}
async function fails(promise, code, what) {
  const res = await promise;
  assert.equal(res.code, code, `${what}: expected code ${code}, got ${JSON.stringify(res)}`);
  assert.ok(typeof res.message === 'string' && res.message.length > 0, `${what}: no message`);
  // the server is still up and answering
  await ok(await client.listCollections(), `list after ${what}`);
}
function sortedDistances(hits, what) {
  for (let i = 1; i < hits.length; i++)
    assert.ok(hits[i - 1].distance <= hits[i].distance, `${what}: distances not ascending`);
}

async function main() {
  // start clean (a rerun against the same server)
  for (const name of await ok(await client.listCollections(), 'list'))
    await ok(await client.dropCollection({ collectionName: name }), `drop ${name}`);

  // ---- quick setup -----------------------------------------------------------
  await ok(await client.createCollection({ collectionName: 'quick', dimension: DIM, metricType: 'L2', autoID: true }), 'quick create');
  let desc = await ok(await client.describeCollection({ collectionName: 'quick' }), 'quick describe');
  assert.equal(desc.collectionName, 'quick');
  assert.equal(desc.autoId, true, 'autoID honoured');
  assert.deepEqual(desc.fields.map((f) => [f.name, f.type, !!f.primaryKey]),
    [['id', 'Int64', true], ['vector', 'FloatVector', false]]);
  let ins = await ok(await client.insert({ collectionName: 'quick', data: vectors.slice(0, 10).map((v, i) => ({ vector: v, note: `n${i}` })) }), 'quick insert');
  assert.equal(ins.insertCount, 10);
  assert.equal(ins.insertIds.length, 10);
  assert.ok(ins.insertIds.every((id) => typeof id === 'string' && /^-?\d+$/.test(id)), 'int64 ids as strings');
  const quickHits = await ok(await client.search({ collectionName: 'quick', data: [vectors[4]], limit: 3, outputFields: ['note'] }), 'quick search');
  assert.equal(quickHits.length, 3);
  assert.equal(quickHits[0].id, ins.insertIds[4]);
  assert.equal(quickHits[0].note, 'n4', 'dynamic field returned');
  assert.ok(quickHits[0].distance < 1e-6);
  await ok(await client.renameCollection({ collectionName: 'quick', newCollectionName: 'quick2' }), 'rename');
  assert.deepEqual((await ok(await client.listCollections(), 'list')).sort(), ['quick2']);
  console.log('ok: quick setup collection (autoID, dynamic field, search, rename)');

  // ---- custom schema -----------------------------------------------------------
  await ok(await client.createCollection({
    collectionName: 'items',
    schema: {
      autoID: false,
      enableDynamicField: true,
      fields: [
        { fieldName: 'pk', dataType: 'Int64', isPrimary: true },
        { fieldName: 'color', dataType: 'VarChar', elementTypeParams: { max_length: 16 } },
        { fieldName: 'price', dataType: 'Double' },
        { fieldName: 'tags', dataType: 'Array', elementDataType: 'VarChar', elementTypeParams: { max_capacity: 4, max_length: 8 } },
        { fieldName: 'emb', dataType: 'FloatVector', elementTypeParams: { dim: DIM } },
      ],
    },
    indexParams: [{ fieldName: 'emb', indexName: 'emb_idx', metricType: 'L2', params: { index_type: 'HNSW', M: 16, efConstruction: 200 } }],
  }), 'custom create');
  assert.deepEqual(await ok(await client.hasCollection({ collectionName: 'items' }), 'has'), { has: true });
  assert.deepEqual(await ok(await client.hasCollection({ collectionName: 'nope' }), 'has nope'), { has: false });
  desc = await ok(await client.describeCollection({ collectionName: 'items' }), 'describe');
  assert.deepEqual(desc.fields.map((f) => f.name), ['pk', 'color', 'price', 'tags', 'emb']);
  assert.equal(desc.indexes[0].indexName, 'emb_idx');
  assert.equal(desc.load, 'LoadStateLoaded');
  ins = await ok(await client.insert({ collectionName: 'items', data: rows }), 'insert');
  assert.equal(ins.insertCount, N);
  assert.deepEqual(ins.insertIds, rows.map((r) => String(r.pk)));
  assert.deepEqual(await ok(await client.getCollectionStatistics({ collectionName: 'items' }), 'stats'), { rowCount: N });
  const load = await ok(await client.getCollectionLoadState({ collectionName: 'items' }), 'load state');
  assert.equal(load.loadState, 'LoadStateLoaded');
  await ok(await client.loadCollection({ collectionName: 'items' }), 'load');
  await ok(await client.releaseCollection({ collectionName: 'items' }), 'release');
  console.log('ok: custom schema collection, insert, describe/has/list/stats/load state');

  // ---- search (HNSW) ---------------------------------------------------------------
  async function checkSearch(label) {
    let hits = await ok(await client.search({ collectionName: 'items', data: [vectors[17]], limit: 5, outputFields: ['color', 'price'] }), `${label} search`);
    assert.equal(hits.length, 5);
    assert.deepEqual(hits.map((h) => h.pk), bruteForce(vectors[17], 5, rows), `${label}: top-5 equals brute force`);
    assert.ok(hits[0].distance < 1e-6);
    sortedDistances(hits, label);
    assert.equal(hits[0].color, COLORS[17 % 3]);
    // filter honoured, and the same hits as brute force over the filtered rows
    const filter = 'color == "red" and price < 150';
    hits = await ok(await client.search({ collectionName: 'items', data: [vectors[17]], filter, limit: 10, outputFields: ['color', 'price'] }), `${label} filtered search`);
    assert.equal(hits.length, 10);
    assert.ok(hits.every((h) => h.color === 'red' && h.price < 150), `${label}: filter violated`);
    assert.deepEqual(hits.map((h) => h.pk), bruteForce(vectors[17], 10, rows, (r) => r.color === 'red' && r.price < 150));
    sortedDistances(hits, `${label} filtered`);
    // two query vectors: Milvus returns one flat list and topks; the SDK splits it
    const res = await client.search({ collectionName: 'items', data: [vectors[3], vectors[42]], limit: 3 });
    await ok(res, `${label} nq=2`);
    assert.deepEqual(res.topks, [3, 3]);
    assert.equal(res.data.length, 2);
    assert.deepEqual(res.data[0].map((h) => h.pk), bruteForce(vectors[3], 3, rows));
    assert.deepEqual(res.data[1].map((h) => h.pk), bruteForce(vectors[42], 3, rows));
  }
  await checkSearch('HNSW');
  const one = await client.search({ collectionName: 'items', data: [vectors[0]] });
  assert.equal(one.data.length, 100, 'default search limit 100');
  assert.deepEqual(one.topks, [100]);
  const none = await ok(await client.search({ collectionName: 'items', data: [vectors[0]], filter: 'color == "purple"' }), 'empty search');
  assert.deepEqual(none, []);
  console.log('ok: search (HNSW): brute-force top-k, filters, nq=2 topks, default limit, empty result');

  // ---- query / get -------------------------------------------------------------------
  let q = await ok(await client.query({ collectionName: 'items', filter: 'price >= 10 and price < 20', outputFields: ['pk', 'price'] }), 'query');
  assert.deepEqual(q.map((r) => r.pk).sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => String(10 + i)));
  q = await ok(await client.query({ collectionName: 'items', filter: 'price >= 0' }), 'query default limit');
  assert.equal(q.length, 100, 'default query limit 100');
  assert.deepEqual(Object.keys(q[0]).sort(), ['color', 'emb', 'pk', 'price', 'tags'], 'default outputFields *');
  q = await ok(await client.query({ collectionName: 'items', filter: 'color == "blue"', outputFields: ['count(*)'] }), 'count');
  assert.deepEqual(q, [{ 'count(*)': rows.filter((r) => r.color === 'blue').length }]);
  q = await ok(await client.query({ collectionName: 'items', filter: 'array_contains(tags, "t2")', outputFields: ['count(*)'] }), 'array count');
  assert.deepEqual(q, [{ 'count(*)': N / 5 }]);
  let got = await ok(await client.get({ collectionName: 'items', id: [3, 4], outputFields: ['pk', 'color'] }), 'get');
  assert.deepEqual(got, [{ pk: '3', color: rows[3].color }, { pk: '4', color: rows[4].color }]);
  got = await ok(await int64Client.get({ collectionName: 'items', id: [5], outputFields: ['pk'] }), 'get int64');
  assert.deepEqual(got, [{ pk: 5 }], 'Accept-Type-Allow-Int64: true gives numbers');
  console.log('ok: query (filters, default limit and outputFields, count(*), arrays), get, int64 rule');

  // ---- upsert / delete ---------------------------------------------------------------------
  const up = await ok(await client.upsert({ collectionName: 'items', data: [{ ...rows[3], price: 1000 }] }), 'upsert');
  assert.equal(up.upsertCount, 1);
  assert.deepEqual(up.upsertIds, ['3']);
  got = await ok(await client.get({ collectionName: 'items', id: 3, outputFields: ['price'] }), 'get after upsert');
  assert.equal(got[0].price, 1000);
  rows[3] = { ...rows[3], price: 1000 };
  await ok(await client.delete({ collectionName: 'items', filter: 'pk in [1, 2]' }), 'delete');
  rows = rows.filter((r) => r.pk !== 1 && r.pk !== 2);
  assert.deepEqual(await ok(await client.getCollectionStatistics({ collectionName: 'items' }), 'stats'), { rowCount: N - 2 });
  assert.deepEqual(await ok(await client.get({ collectionName: 'items', id: [1] }), 'get deleted'), []);
  const hits = await ok(await client.search({ collectionName: 'items', data: [vectors[1]], limit: 5 }), 'search deleted');
  assert.ok(!hits.some((h) => h.pk === '1' || h.pk === '2'), 'deleted rows not found');
  assert.deepEqual(hits.map((h) => h.pk), bruteForce(vectors[1], 5, rows));
  console.log('ok: upsert, delete (rows gone from get, stats and search)');

  // ---- partitions ----------------------------------------------------------------------------
  await ok(await client.createPartition({ collectionName: 'items', partitionName: 'p1' }), 'create partition');
  assert.deepEqual(await ok(await client.hasPartition({ collectionName: 'items', partitionName: 'p1' }), 'has partition'), { has: true });
  assert.deepEqual((await ok(await client.listPartitions({ collectionName: 'items' }), 'list partitions')).sort(), ['_default', 'p1']);
  const prow = Array.from({ length: 5 }, (_, i) => ({ pk: 1000 + i, color: 'green', price: 1, tags: [], emb: vectors[17].map((x) => x + 0.001 * (i + 1)) }));
  await ok(await client.insert({ collectionName: 'items', partitionName: 'p1', data: prow }), 'insert into p1');
  assert.deepEqual(await ok(await client.getPartitionStatistics({ collectionName: 'items', partitionName: 'p1' }), 'partition stats'), { rowCount: 5 });
  await ok(await client.loadPartitions({ collectionName: 'items', partitionNames: ['p1'] }), 'load partitions');
  const ph = await ok(await client.search({ collectionName: 'items', data: [vectors[17]], limit: 3, partitionNames: ['p1'] }), 'search p1');
  assert.deepEqual(ph.map((h) => h.pk), ['1000', '1001', '1002']);
  const all = await ok(await client.search({ collectionName: 'items', data: [vectors[17]], limit: 3 }), 'search all partitions');
  assert.equal(all[0].pk, '17');
  await ok(await client.dropPartition({ collectionName: 'items', partitionName: 'p1' }), 'drop partition');
  assert.deepEqual(await ok(await client.hasPartition({ collectionName: 'items', partitionName: 'p1' }), 'has dropped'), { has: false });
  assert.deepEqual(await ok(await client.getCollectionStatistics({ collectionName: 'items' }), 'stats'), { rowCount: N - 2 });
  console.log('ok: partitions (create, has, list, insert into, stats, load, search in, drop)');

  // ---- indexes: HNSW -> IVF_FLAT ---------------------------------------------------------------
  assert.deepEqual(await ok(await client.listIndexes({ collectionName: 'items' }), 'list indexes'), ['emb_idx']);
  let idx = await ok(await client.describeIndex({ collectionName: 'items', indexName: 'emb_idx' }), 'describe index');
  assert.equal(idx[0].indexType, 'HNSW');
  assert.equal(idx[0].metricType, 'L2');
  assert.equal(idx[0].totalRows, N - 2);
  await ok(await client.dropIndex({ collectionName: 'items', indexName: 'emb_idx' }), 'drop index');
  await ok(await client.createIndex({ collectionName: 'items', indexParams: [{ fieldName: 'emb', indexName: 'ivf', metricType: 'L2', params: { index_type: 'IVF_FLAT', nlist: 8 } }] }), 'create IVF_FLAT');
  idx = await ok(await client.describeIndex({ collectionName: 'items', indexName: 'ivf' }), 'describe IVF');
  assert.equal(idx[0].indexType, 'IVF_FLAT');
  assert.equal(idx[0].indexState, 'Finished');
  // nprobe = nlist scans every list: exact answers
  const ivf = await ok(await client.search({ collectionName: 'items', data: [vectors[17]], limit: 5, searchParams: { params: { nprobe: 8 } } }), 'IVF search');
  assert.deepEqual(ivf.map((h) => h.pk), bruteForce(vectors[17], 5, rows));
  await checkSearch('IVF_FLAT');
  console.log('ok: indexes (list, describe, drop, HNSW -> IVF_FLAT, search after rebuild)');

  // ---- bad requests: Milvus error codes, server stays up -------------------------------------------
  await fails(client.describeCollection({ collectionName: 'nope' }), 100, 'unknown collection');
  await fails(client.insert({ collectionName: 'nope', data: [{ pk: 1 }] }), 100, 'insert into unknown collection');
  await fails(client.insert({ collectionName: 'items', data: [{ pk: 5000, color: 'red', price: 1, tags: [], emb: [1, 2, 3] }] }), 1804, 'wrong dim insert');
  await fails(client.insert({ collectionName: 'items', data: [{ pk: 'x', color: 'red', price: 1, tags: [], emb: vectors[0] }] }), 1804, 'wrong pk type');
  await fails(client.search({ collectionName: 'items', data: [[1, 2, 3]] }), 1100, 'wrong dim search');
  await fails(client.search({ collectionName: 'items', data: [vectors[0]], filter: 'color ==' }), 1100, 'bad filter');
  await fails(client.query({ collectionName: 'items', filter: 'pk > 1', limit: 'ten' }), 1801, 'limit of the wrong type');
  await fails(client.query({ filter: 'pk > 1' }), 1802, 'missing collectionName');
  await fails(client.dropPartition({ collectionName: 'items', partitionName: 'nope' }), 200, 'unknown partition');
  await fails(client.describeIndex({ collectionName: 'items', indexName: 'nope' }), 700, 'unknown index');
  await fails(new HttpClient({ endpoint, ...auth, database: 'other' }).hasCollection({ collectionName: 'items' }), 800, 'unknown database');
  // malformed JSON, straight through fetch (the SDK always sends valid JSON)
  const headers = user ? { Authorization: `Bearer ${user}:${password}` } : {};
  const raw = await fetch(`${endpoint}/v2/vectordb/entities/insert`, { method: 'POST', headers, body: '{"collectionName": "items", "data": [' });
  assert.equal(raw.status, 200);
  const rawBody = await raw.json();
  assert.equal(rawBody.code, 1801, JSON.stringify(rawBody));
  // an action pixseek does not implement: HTTP 404, which the SDK raises
  await assert.rejects(client.listAliases({}), (e) => e instanceof HttpError && e.status === 404);
  assert.deepEqual(await ok(await client.getCollectionStatistics({ collectionName: 'items' }), 'stats after errors'), { rowCount: N - 2 });
  console.log('ok: bad requests answer Milvus codes (100, 200, 700, 800, 1100, 1801, 1802, 1804), nothing applied');

  // ---- token ---------------------------------------------------------------------------------------------
  if (user) {
    const anon = new HttpClient({ endpoint });
    await assert.rejects(anon.dropCollection({ collectionName: 'items' }), (e) => e instanceof HttpError && e.status === 401 && /1800/.test(e.message));
    const wrong = new HttpClient({ endpoint, username: user, password: 'wrong' });
    await assert.rejects(wrong.insert({ collectionName: 'items', data: rows.slice(0, 1) }), (e) => e.status === 401);
    assert.deepEqual(await ok(await anon.hasCollection({ collectionName: 'items' }), 'read without token'), { has: true });
    console.log('ok: token: writes need username:password, reads are open');
  }

  // ---- drop ------------------------------------------------------------------------------------------------
  await ok(await client.dropCollection({ collectionName: 'items' }), 'drop items');
  await ok(await client.dropCollection({ collectionName: 'quick2' }), 'drop quick2');
  assert.deepEqual(await ok(await client.listCollections(), 'list'), []);
  await fails(client.search({ collectionName: 'items', data: [vectors[0]] }), 100, 'search dropped collection');
  console.log('ok: drop');
}

main().then(() => console.log('all Milvus SDK checks passed'), (e) => {
  console.error(`FAIL: ${e.stack || e}`);
  process.exit(1);
});
