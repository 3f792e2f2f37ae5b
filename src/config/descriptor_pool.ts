/**
 * A lazily built registry over a binary FileDescriptorSet: the counterpart
 * of the descriptor pool that Envoy gets from its generated code.
 *
 * Decoding the whole Envoy set (376 files) and building descriptors for all
 * of it costs several hundred milliseconds on a cold start, yet a bootstrap
 * touches only ~70 of those files (the bootstrap's own imports plus the
 * extensions it names by "@type"). So we first scan the raw bytes for the
 * names each file defines (cheap: no objects are built), and decode and
 * build a file, with its imports, only when one of its types is asked for.
 *
 * Implements protobuf-es's `FileRegistry`, so it can be handed to
 * `fromJson`, `anyUnpack`, `getOption` and friends.
 */
import {
  createFileRegistry,
  fromBinary,
  type DescEnum,
  type DescExtension,
  type DescFile,
  type DescMessage,
  type DescService,
  type FileRegistry,
} from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';

type AnyDesc = DescMessage | DescEnum | DescExtension | DescService;

interface FileEntry {
  readonly start: number;
  readonly end: number;
  readonly deps: string[];
}

/** Reads a varint at `pos`; returns [value, next position]. Values here fit in 2^53. */
function varint(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let shift = 1;
  for (;;) {
    const b = buf[pos++] ?? 0;
    result += (b & 0x7f) * shift;
    if (b < 0x80) return [result, pos];
    shift *= 128;
  }
}

/**
 * Calls `onField(no, start, end)` for each length-delimited field of the
 * message in `buf[start, end)`, and `onVarint(no, value)` for varints.
 */
function scan(
  buf: Uint8Array,
  start: number,
  end: number,
  onField: (no: number, s: number, e: number) => void,
  onVarint?: (no: number, value: number) => void,
): void {
  let pos = start;
  while (pos < end) {
    let tag: number;
    [tag, pos] = varint(buf, pos);
    const no = Math.floor(tag / 8);
    switch (tag & 7) {
      case 0: {
        let v: number;
        [v, pos] = varint(buf, pos);
        onVarint?.(no, v);
        break;
      }
      case 1:
        pos += 8;
        break;
      case 2: {
        let len: number;
        [len, pos] = varint(buf, pos);
        onField(no, pos, pos + len);
        pos += len;
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        throw new Error(`unexpected wire type ${tag & 7} in descriptor set`);
    }
  }
}

const decoder = new TextDecoder();

export class DescriptorPool implements FileRegistry {
  readonly kind = 'registry' as const;
  private readonly fileEntries = new Map<string, FileEntry>();
  /** Type name (message, enum, extension, service) → the file defining it. */
  private readonly typeToFile = new Map<string, string>();
  /** `extendee:number` → extension full name. */
  private readonly extensionsByNumber = new Map<string, string>();
  /** Built files, and the descriptors they define by full name. */
  private readonly built = new Map<string, DescFile>();
  private readonly descs = new Map<string, AnyDesc>();

  constructor(private readonly bytes: Uint8Array) {
    // FileDescriptorSet.file = 1
    scan(bytes, 0, bytes.length, (no, s, e) => {
      if (no === 1) this.indexFile(s, e);
    });
  }

  private str(s: number, e: number): string {
    return decoder.decode(this.bytes.subarray(s, e));
  }

  private indexFile(start: number, end: number): void {
    let name = '';
    let pkg = '';
    const deps: string[] = [];
    const defined: Array<[number, number, number]> = []; // [field no, start, end]
    // FileDescriptorProto: name = 1, package = 2, dependency = 3, message_type = 4,
    // enum_type = 5, service = 6, extension = 7.
    scan(this.bytes, start, end, (no, s, e) => {
      if (no === 1) name = this.str(s, e);
      else if (no === 2) pkg = this.str(s, e);
      else if (no === 3) deps.push(this.str(s, e));
      else if (no >= 4 && no <= 7) defined.push([no, s, e]);
    });
    this.fileEntries.set(name, { start, end, deps });
    const prefix = pkg === '' ? '' : `${pkg}.`;
    for (const [no, s, e] of defined) {
      if (no === 4) this.indexMessage(name, prefix, s, e);
      else if (no === 7) this.indexExtension(name, prefix, s, e);
      else this.typeToFile.set(prefix + this.nameOf(s, e), name);
    }
  }

  /** The `name` (field 1) of a descriptor message. */
  private nameOf(start: number, end: number): string {
    let n = '';
    scan(this.bytes, start, end, (no, s, e) => {
      if (no === 1 && n === '') n = this.str(s, e);
    });
    return n;
  }

  private indexMessage(file: string, prefix: string, start: number, end: number): void {
    const full = prefix + this.nameOf(start, end);
    this.typeToFile.set(full, file);
    // DescriptorProto: nested_type = 3, enum_type = 4, extension = 6.
    scan(this.bytes, start, end, (no, s, e) => {
      if (no === 3) this.indexMessage(file, `${full}.`, s, e);
      else if (no === 4) this.typeToFile.set(`${full}.${this.nameOf(s, e)}`, file);
      else if (no === 6) this.indexExtension(file, `${full}.`, s, e);
    });
  }

  private indexExtension(file: string, prefix: string, start: number, end: number): void {
    let name = '';
    let extendee = '';
    let number = 0;
    // FieldDescriptorProto: name = 1, extendee = 2, number = 3.
    scan(
      this.bytes,
      start,
      end,
      (no, s, e) => {
        if (no === 1) name = this.str(s, e);
        else if (no === 2) extendee = this.str(s, e).replace(/^\./, '');
      },
      (no, v) => {
        if (no === 3) number = v;
      },
    );
    const full = prefix + name;
    this.typeToFile.set(full, file);
    this.extensionsByNumber.set(`${extendee}:${number}`, full);
  }

  private decode(fileName: string): FileDescriptorProto | undefined {
    const entry = this.fileEntries.get(fileName);
    if (entry === undefined) return undefined;
    return fromBinary(FileDescriptorProtoSchema, this.bytes.subarray(entry.start, entry.end));
  }

  /**
   * Builds `fileName` and whatever it imports that is not built yet, imports
   * first (protobuf-es resolves a file's imports when it is added).
   */
  private ensure(fileName: string): DescFile | undefined {
    const have = this.built.get(fileName);
    if (have !== undefined) return have;
    if (!this.fileEntries.has(fileName)) return undefined;
    const order: string[] = [];
    const visiting = new Set<string>();
    const visit = (name: string): void => {
      if (this.built.has(name) || visiting.has(name)) return;
      visiting.add(name);
      for (const dep of this.fileEntries.get(name)?.deps ?? []) visit(dep);
      order.push(name);
    };
    visit(fileName);
    for (const name of order) {
      const proto = this.decode(name);
      if (proto === undefined) throw new Error(`descriptor set has no file ${name}`);
      const file = createFileRegistry(proto, (dep) => this.shallow(dep)).getFile(name);
      if (file === undefined) throw new Error(`cannot build descriptors for ${name}`);
      // Point the new file at the real dependency descriptors, not the shallow views.
      (file as { dependencies: DescFile[] }).dependencies = proto.dependency.flatMap((d) => this.built.get(d) ?? []);
      this.built.set(name, file);
      this.indexBuilt(file);
    }
    return this.built.get(fileName);
  }

  /**
   * A built file as seen by `createFileRegistry` when it resolves an import:
   * its own types plus those of its public imports only. (Handing it the
   * real file makes protobuf-es re-add every transitive import, once per
   * path through the import graph, which is exponential on Envoy's protos.)
   */
  private shallow(name: string): DescFile | undefined {
    const real = this.built.get(name);
    if (real === undefined) return undefined;
    const publicDeps = real.proto.publicDependency.flatMap((i) => {
      const dep = real.proto.dependency[i];
      const view = dep === undefined ? undefined : this.shallow(dep);
      return view === undefined ? [] : [view];
    });
    return Object.create(real, { dependencies: { value: publicDeps } }) as DescFile;
  }

  private indexBuilt(file: DescFile): void {
    const addMessage = (m: DescMessage): void => {
      this.descs.set(m.typeName, m);
      for (const n of m.nestedMessages) addMessage(n);
      for (const e of m.nestedEnums) this.descs.set(e.typeName, e);
      for (const x of m.nestedExtensions) this.descs.set(x.typeName, x);
    };
    for (const m of file.messages) addMessage(m);
    for (const e of file.enums) this.descs.set(e.typeName, e);
    for (const x of file.extensions) this.descs.set(x.typeName, x);
    for (const sv of file.services) this.descs.set(sv.typeName, sv);
  }

  private lookup(typeName: string): AnyDesc | undefined {
    const d = this.descs.get(typeName);
    if (d !== undefined) return d;
    const file = this.typeToFile.get(typeName);
    if (file === undefined) return undefined;
    this.ensure(file);
    return this.descs.get(typeName);
  }

  /** Every type name in the set, without building anything. */
  typeNames(): IterableIterator<string> {
    return this.typeToFile.keys();
  }

  /** How many files are built so far (for load-time reporting). */
  builtFileCount(): number {
    return this.built.size;
  }

  get files(): Iterable<DescFile> {
    for (const name of this.fileEntries.keys()) this.ensure(name);
    return [...this.built.values()];
  }

  getFile(fileName: string): DescFile | undefined {
    return this.ensure(fileName);
  }

  *[Symbol.iterator](): IterableIterator<AnyDesc> {
    for (const name of this.typeToFile.keys()) {
      const d = this.lookup(name);
      if (d !== undefined) yield d;
    }
  }

  get(typeName: string): AnyDesc | undefined {
    return this.lookup(typeName);
  }

  getMessage(typeName: string): DescMessage | undefined {
    const d = this.lookup(typeName);
    return d?.kind === 'message' ? d : undefined;
  }

  getEnum(typeName: string): DescEnum | undefined {
    const d = this.lookup(typeName);
    return d?.kind === 'enum' ? d : undefined;
  }

  getExtension(typeName: string): DescExtension | undefined {
    const d = this.lookup(typeName);
    return d?.kind === 'extension' ? d : undefined;
  }

  getExtensionFor(extendee: DescMessage, no: number): DescExtension | undefined {
    const name = this.extensionsByNumber.get(`${extendee.typeName}:${no}`);
    return name === undefined ? undefined : this.getExtension(name);
  }

  getService(typeName: string): DescService | undefined {
    const d = this.lookup(typeName);
    return d?.kind === 'service' ? d : undefined;
  }
}
