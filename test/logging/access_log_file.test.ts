import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { AccessLogManager, type StdioStream } from '../../src/logging/access_log_file.js';
import { tempDir, TestScope } from './test_util.js';

function lines(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  assert.ok(text.endsWith('\n') || text === '', 'file ends with a whole line');
  return text === '' ? [] : text.slice(0, -1).split('\n');
}

for (const useWorker of [true, false]) {
  const mode = useWorker ? 'flush worker' : 'main-thread writes';

  test(`many loggers, one file: every line arrives whole and in order after flushAll (${mode})`, (t) => {
    const dir = tempDir(t);
    const scope = new TestScope();
    // A small flush size forces many batches in flight at once.
    const m = new AccessLogManager({ scope, useWorker, minFlushSize: 512 });
    t.after(() => m.close());
    const path = join(dir, 'access.log');
    // Five loggers naming the same file (one by a relative path) share one AccessLogFile.
    const files = [
      m.createAccessLog(path), m.createAccessLog(path), m.createAccessLog(relative(process.cwd(), path)),
      m.createAccessLog(path), m.createAccessLog(path),
    ];
    assert.ok(files.every((f) => f === files[0]));
    const expected: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const line = `logger=${i % 5} seq=${i} ${'x'.repeat(i % 97)} ünïcödé`;
      expected.push(line);
      files[i % 5]!.write(`${line}\n`);
    }
    m.flushAll();
    assert.deepEqual(lines(path), expected);
    assert.equal(scope.counterValue('filesystem.write_buffered'), 5000);
    assert.ok(scope.counterValue('filesystem.write_completed') > 1);
    assert.equal(scope.counterValue('filesystem.write_failed'), 0);
    assert.equal(scope.gaugeValue('filesystem.write_total_buffered'), 0);
  });

  test(`reopen moves later lines to the new file, earlier ones stay in the rotated file (${mode})`, (t) => {
    const dir = tempDir(t);
    const m = new AccessLogManager({ useWorker });
    t.after(() => m.close());
    const path = join(dir, 'a.log');
    const f = m.createAccessLog(path);
    f.write('before-1\n');
    f.write('before-2\n');
    m.flushAll();
    renameSync(path, `${path}.1`);
    f.write('buffered-before-reopen\n');
    m.reopen();
    f.write('after\n');
    m.flushAll();
    assert.deepEqual(lines(`${path}.1`), ['before-1', 'before-2', 'buffered-before-reopen']);
    assert.deepEqual(lines(path), ['after']);
  });
}

test('nothing reaches the disk before a flush: write() only buffers', (t) => {
  const dir = tempDir(t);
  const m = new AccessLogManager({ flushIntervalMs: 0 });
  t.after(() => m.close());
  const path = join(dir, 'b.log');
  const f = m.createAccessLog(path);
  f.write('one\n');
  assert.equal(readFileSync(path, 'utf8'), '');
  assert.equal(m.stats.writeTotalBuffered.value(), 4);
  m.flushAll();
  assert.equal(readFileSync(path, 'utf8'), 'one\n');
});

test('the async flush() resolves once the lines are written', async (t) => {
  const dir = tempDir(t);
  const m = new AccessLogManager();
  t.after(() => m.close());
  const path = join(dir, 'c.log');
  const f = m.createAccessLog(path);
  for (let i = 0; i < 100; i++) f.write(`l${i}\n`);
  await m.flush();
  assert.equal(lines(path).length, 100);
});

test('an unwritable path never throws: the failure is counted', (t) => {
  const dir = tempDir(t);
  // A regular file where a directory should be: fails even for root.
  writeFileSync(join(dir, 'not-a-dir'), '');
  const scope = new TestScope();
  const m = new AccessLogManager({ scope });
  t.after(() => m.close());
  const f = m.createAccessLog(join(dir, 'not-a-dir', 'x.log'));
  assert.ok(f.openError !== null);
  assert.equal(scope.counterValue('filesystem.reopen_failed'), 1);
  assert.doesNotThrow(() => {
    for (let i = 0; i < 10; i++) f.write('line\n');
    f.flush();
    m.flushAll();
    m.reopen();
    f.write('again\n');
    m.flushAll();
  });
  assert.equal(scope.counterValue('filesystem.write_failed'), 2);
  assert.equal(scope.counterValue('filesystem.reopen_failed'), 2);
  assert.equal(scope.counterValue('filesystem.write_buffered'), 11);
  assert.equal(existsSync(join(dir, 'not-a-dir', 'x.log')), false);
});

for (const useWorker of [true, false]) {
  test(`a write error after opening is counted, not thrown (${useWorker ? 'flush worker' : 'main-thread writes'})`,
    { skip: !existsSync('/dev/full') }, (t) => {
      const scope = new TestScope();
      const m = new AccessLogManager({ scope, useWorker });
      t.after(() => m.close());
      // /dev/full opens fine and fails every write with ENOSPC.
      const f = m.createAccessLog('/dev/full');
      assert.equal(f.openError, null);
      assert.doesNotThrow(() => {
        f.write('line\n');
        m.flushAll();
      });
      assert.equal(scope.counterValue('filesystem.write_failed'), 1);
      assert.equal(scope.counterValue('filesystem.write_completed'), 0);
    });
}

test('/dev/stdout and /dev/stderr go to the process streams, buffered until flush', (t) => {
  const out: string[] = [];
  const err: string[] = [];
  const stream = (sink: string[]): StdioStream => ({
    write(data: string, cb?: (e?: Error | null) => void): boolean { sink.push(data); cb?.(null); return true; },
  });
  const scope = new TestScope();
  const m = new AccessLogManager({ scope, stdout: stream(out), stderr: stream(err) });
  t.after(() => m.close());
  const o = m.createAccessLog('/dev/stdout');
  const e = m.createAccessLog('/dev/stderr');
  assert.equal(m.createAccessLog('/dev/stdout'), o);
  o.write('a\n');
  o.write('b\n');
  e.write('c\n');
  assert.deepEqual(out, []);
  m.flushAll();
  assert.deepEqual(out, ['a\nb\n']);
  assert.deepEqual(err, ['c\n']);
  assert.equal(scope.counterValue('filesystem.write_completed'), 2);
  // A failing stream is counted.
  const bad = new AccessLogManager({
    scope, stdout: { write: (_d: string, cb?: (e?: Error | null) => void) => { cb?.(new Error('EPIPE')); return false; } },
  });
  t.after(() => bad.close());
  bad.createAccessLog('/dev/stdout').write('x\n');
  bad.flushAll();
  assert.equal(scope.counterValue('filesystem.write_failed'), 1);
});

test('stats bound later carry over what was counted before', (t) => {
  const dir = tempDir(t);
  const m = new AccessLogManager();
  t.after(() => m.close());
  const f = m.createAccessLog(join(dir, 'e.log'));
  f.write('1\n');
  f.write('2\n');
  const scope = new TestScope();
  m.bindStats(scope);
  f.write('3\n');
  m.flushAll();
  assert.equal(scope.counterValue('filesystem.write_buffered'), 3);
  assert.equal(scope.counterValue('filesystem.write_completed'), 1);
});

test('a buffer past the flush size is handed over without waiting for the timer', (t) => {
  const dir = tempDir(t);
  const m = new AccessLogManager({ minFlushSize: 10, flushIntervalMs: 0, useWorker: false });
  t.after(() => m.close());
  const path = join(dir, 'f.log');
  const f = m.createAccessLog(path);
  f.write('12345\n');
  assert.equal(readFileSync(path, 'utf8'), '');
  f.write('67890\n');
  // With main-thread writes the hand-over is the write itself.
  assert.equal(readFileSync(path, 'utf8'), '12345\n67890\n');
});

test('the flush timer hands buffers over every flush interval and counts flushed_by_timer', (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const dir = tempDir(t);
  const scope = new TestScope();
  const m = new AccessLogManager({ scope, flushIntervalMs: 10_000, useWorker: false });
  t.after(() => m.close());
  const path = join(dir, 'timer.log');
  const f = m.createAccessLog(path);
  f.write('tick\n');
  t.mock.timers.tick(9_999);
  assert.equal(readFileSync(path, 'utf8'), '');
  t.mock.timers.tick(1);
  assert.equal(readFileSync(path, 'utf8'), 'tick\n');
  assert.equal(scope.counterValue('filesystem.flushed_by_timer'), 1);
  // Nothing buffered: the timer does not count a flush.
  t.mock.timers.tick(10_000);
  assert.equal(scope.counterValue('filesystem.flushed_by_timer'), 1);
});
