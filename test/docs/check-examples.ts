/**
 * Type-checks every `@example` in the doc comments of packages/*\/src against the workspace packages,
 * and the code blocks of the API reference's landing page (docs/README.md).
 *
 *   npx -y pnpm@10 docs:examples            # check them all; exit 1 on a failure, each as file:line
 *   npx -y pnpm@10 docs:examples --list     # also print every example found, with where it is
 *   npx -y pnpm@10 docs:examples --show packages/core/src/evolve.ts:176
 *                                           # print the module an example is checked as
 *
 * (`tsx test/docs/check-examples.ts …` does the same; test/docs/examples.test.ts runs it in
 * `npx -y pnpm@10 test`.)
 *
 * An example is the text after `@example` up to the next block tag; a fenced block in it is its code
 * (a ```json block must parse as JSON; other languages are skipped), otherwise all of it is, as TypeDoc
 * shows it.
 * Each one becomes a module of its own: its `import` lines at the top, the rest inside a block (so it
 * may declare any name), and above it what it uses without defining:
 *
 * - a name a published package exports, imported from that package (the example's own package
 *   first), or else one its own file exports (for the internal functions' examples);
 * - a library examples name without importing (`pg`, `PGlite`, `Database`), imported from it;
 * - a value the examples assume is at hand (`ledger`, `catalog`, `store`, `events`, `grantId`, …),
 *   declared with its type in PRELUDE below.
 *
 * Names are matched by the identifiers in the example, so an unused import or declaration is harmless.
 * A name that is none of these fails as "Cannot find name": a broken example, or one more name for
 * PRELUDE. The modules are checked with the repository's compiler options (strict), in one program.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Where the example modules live (in memory only): test/ has the libraries examples use installed. */
const MODULES_DIR = join(ROOT, 'test', 'docs');
const CODE_LANGUAGES = new Set(['', 'ts', 'typescript', 'js', 'javascript', 'mts', 'mjs']);
const JSON_LANGUAGES = new Set(['json', 'jsonc']);

/** Libraries the examples use without importing them. */
const LIBRARY_IMPORTS: Record<string, string> = {
  pg: "import pg from 'pg';",
  PGlite: "import { PGlite } from '@electric-sql/pglite';",
  Database: "import Database from 'better-sqlite3';",
};

const core = (type: string) => `import('@tally/core').${type}`;
const pure = (type: string) => `import('@tally/core/pure').${type}`;
/** What the examples take to be in scope: each name with its declaration. */
const PRELUDE: Record<string, string> = {
  ledger: `declare const ledger: ${core('Ledger')};`,
  catalog: `declare const catalog: ${core('Catalog')};`,
  catalogInput: `declare const catalogInput: ${core('CatalogInput')};`,
  config: `declare const config: ${core('CatalogInput')};`,
  store: `declare const store: ${core('EventStore')};`,
  myStore: `declare const myStore: ${core('EventStore')};`,
  batch: `declare const batch: ${core('NewEvent')}[];`,
  lastPosition: 'declare const lastPosition: bigint;',
  stored: `declare const stored: ${core('StoredEvent')};`,
  id: 'declare const id: string;',
  deducted: `declare const deducted: ${core('CreditsDeducted')};`,
  error: 'declare const error: unknown;',
  retry: 'declare function retry(): Promise<void>;',
  events: `declare const events: ${core('RecordedEvent')}[];`,
  moreEvents: `declare const moreEvents: ${core('RecordedEvent')}[];`,
  event: `declare const event: ${core('RecordedEvent')};`,
  state: `declare const state: ${pure('CustomerState')};`,
  snapshotState: `declare const snapshotState: ${pure('CustomerState')};`,
  tail: `declare const tail: ${core('RecordedEvent')}[];`,
  context: `declare const context: ${pure('DecideContext')};`,
  timeline: `declare const timeline: ${pure('CatalogTimeline')};`,
  catalogEvents: `declare const catalogEvents: ${pure('RecordedCatalogEvent')}[];`,
  subscriptionId: 'declare const subscriptionId: string;',
  customerId: 'declare const customerId: string;',
  grantId: 'declare const grantId: string;',
  usageId: 'declare const usageId: string;',
  holdId: 'declare const holdId: string;',
  requestId: 'declare const requestId: string;',
  purchase: `declare const purchase: (request: ${core('PurchaseRequest')}) => Promise<${core('Purchased')}>;`,
  expiresAt: 'declare const expiresAt: string;',
  key: 'declare const key: string;',
  base: 'declare const base: string;',
  headers: 'declare const headers: Record<string, string>;',
  response: 'declare const response: Response;',
  body: 'declare const body: string;',
  // @tally/webhooks: the sender, and what a receiver has in hand.
  webhooks: "declare const webhooks: import('@tally/webhooks').Webhooks;",
  request: 'declare const request: Request;',
  secret: 'declare const secret: string;',
  apiKeys: 'declare const apiKeys: string[];',
  pool: "declare const pool: import('pg').Pool;",
  logger: 'declare const logger: { error(details: unknown): void; info(details: unknown): void };',
  showUpgrade: 'declare function showUpgrade(): void;',
  // @tally/react's examples: the host's token function, its cache, and components of its own.
  getToken: "declare const getToken: import('@tally/react').GetToken;",
  client: "declare const client: import('@tally/react').TallyClient;",
  queryClient: "declare const queryClient: import('@tanstack/react-query').QueryClient;",
  BuyCredits: 'declare function BuyCredits(): import("react").ReactNode;',
  GenerateButton: 'declare function GenerateButton(): import("react").ReactNode;',
};

/** Packages whose examples are React components and hooks: checked as TSX. */
const JSX_PACKAGES = new Set(['react']);

export interface Example {
  /** Relative to the repository, with `/`. */
  readonly file: string;
  /** The source line of the `@example` tag (1-based). */
  readonly line: number;
  /** `ts` (type-checked) or `json` (parsed). */
  readonly language: 'ts' | 'json';
  /** The code, one entry per line, each with the source line it is on. */
  readonly code: readonly { readonly text: string; readonly line: number }[];
}

export interface Failure {
  readonly file: string;
  readonly line: number;
  /** Where the example starts. */
  readonly example: number;
  readonly message: string;
}

const posix = (path: string) => path.split(sep).join('/');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(m?ts|tsx)$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The files examples are taken from: every package's src/. */
export function exampleSources(root = ROOT): string[] {
  return readdirSync(join(root, 'packages'))
    .map((name) => join(root, 'packages', name, 'src'))
    .filter((dir) => statSync(dir, { throwIfNoEntry: false })?.isDirectory())
    .flatMap((dir) => sourceFiles(dir))
    .sort();
}

/** Markdown pages whose ```ts blocks are checked like examples: the API reference's landing page. */
export const MARKDOWN_PAGES = ['docs/README.md'];

/** The ```ts (and ```json) blocks of a Markdown page, as examples. */
export function extractMarkdownExamples(path: string, root = ROOT): Example[] {
  const file = posix(relative(root, path));
  const lines = readFileSync(path, 'utf8')
    .split('\n')
    .map((text, i) => ({ text, line: i + 1 }));
  return codeOf(lines).map(({ language, code }) => ({ file, line: code[0]!.line - 1, language, code }));
}

/** Every `@example` in the doc comments (`/** … *\/`) of one file. */
export function extractExamples(path: string, root = ROOT): Example[] {
  const text = readFileSync(path, 'utf8');
  const file = posix(relative(root, path));
  const examples: Example[] = [];
  for (const match of text.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    const firstLine = text.slice(0, match.index).split('\n').length;
    // The comment's lines without `/**`, `*/` and the leading ` * `.
    const lines = match[0]
      .slice(3, -2)
      .split('\n')
      .map((raw, i) => ({ text: i === 0 ? raw : raw.replace(/^\s*\*(?: |$)/, ''), line: firstLine + i }));
    for (let i = 0; i < lines.length; i++) {
      const tag = /(^|\s)@example(\s|$)/.exec(lines[i]!.text);
      if (tag === null) continue;
      const body = [{ text: lines[i]!.text.slice(tag.index + tag[0].length).trim(), line: lines[i]!.line }];
      let j = i + 1;
      for (; j < lines.length && !/^\s*@[a-zA-Z]+(\s|$)/.test(lines[j]!.text); j++) body.push(lines[j]!);
      i = j - 1;
      examples.push(
        ...codeOf(body).map(({ language, code }) => ({ file, line: body[0]!.line, language, code })),
      );
    }
  }
  return examples;
}

/** The code of one example: its fenced blocks in TS/JS and JSON if it has fences, all of it otherwise. */
function codeOf(body: Example['code']): Pick<Example, 'language' | 'code'>[] {
  const trim = (code: Example['code']) => {
    const lines = [...code];
    while (lines.length > 0 && lines[0]!.text.trim() === '') lines.shift();
    while (lines.length > 0 && lines.at(-1)!.text.trim() === '') lines.pop();
    return lines;
  };
  if (!body.some((l) => l.text.trim().startsWith('```'))) {
    const code = trim(body);
    return code.length === 0 ? [] : [{ language: 'ts', code }];
  }
  const blocks: Pick<Example, 'language' | 'code'>[] = [];
  let open: { language: string; lines: Example['code'][number][] } | null = null;
  for (const line of body) {
    const fence = /^\s*```\s*([\w-]*)/.exec(line.text);
    if (fence === null) open?.lines.push(line);
    else if (open === null) open = { language: fence[1]!.toLowerCase(), lines: [] };
    else {
      if (CODE_LANGUAGES.has(open.language)) blocks.push({ language: 'ts', code: trim(open.lines) });
      if (JSON_LANGUAGES.has(open.language)) blocks.push({ language: 'json', code: trim(open.lines) });
      open = null;
    }
  }
  return blocks.filter((b) => b.code.length > 0);
}

/** A generated module: its text, and for each of its lines the source line it came from. */
interface Module {
  readonly path: string;
  readonly example: Example;
  readonly text: string;
  readonly lines: readonly (number | null)[];
}

interface Exports {
  /** Import specifier (`@tally/core`, `@tally/core/pure`) → the names that entry point exports. */
  readonly packages: ReadonlyMap<string, ReadonlySet<string>>;
  /** Source file → the names it exports. */
  readonly files: ReadonlyMap<string, ReadonlySet<string>>;
}

const packageOf = (file: string) => file.split('/')[1]!;

function buildModule(root: string, example: Example, exported: Exports, index: number): Module {
  const source = example.code.map((l) => l.text).join('\n');
  const jsx = JSX_PACKAGES.has(packageOf(example.file));
  const parsed = ts.createSourceFile(
    jsx ? 'example.tsx' : 'example.ts',
    source,
    ts.ScriptTarget.ES2022,
    true,
    jsx ? ts.ScriptKind.TSX : ts.ScriptKind.TS,
  );
  // Its import statements, by line (0-based within the example), are hoisted to the top.
  const importLines = new Set<number>();
  const imported = new Set<string>();
  for (const statement of parsed.statements) {
    if (!ts.isImportDeclaration(statement)) continue;
    const from = parsed.getLineAndCharacterOfPosition(statement.getStart()).line;
    const to = parsed.getLineAndCharacterOfPosition(statement.getEnd()).line;
    for (let l = from; l <= to; l++) importLines.add(l);
    const clause = statement.importClause;
    if (clause?.name) imported.add(clause.name.text);
    const bindings = clause?.namedBindings;
    if (bindings && ts.isNamespaceImport(bindings)) imported.add(bindings.name.text);
    if (bindings && ts.isNamedImports(bindings))
      for (const el of bindings.elements) imported.add(el.name.text);
  }
  const used = new Set<string>();
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node)) used.add(node.text);
    ts.forEachChild(node, visit);
  };
  visit(parsed);

  const path = join(
    MODULES_DIR,
    `example.${example.file.replace(/[/.]/g, '_')}.${example.line}.${index}.${jsx ? 'tsx' : 'ts'}`,
  );
  const own = `@tally/${packageOf(example.file)}`;
  const ownFile = join(root, example.file);
  // The example's own package first (its root, then its subpaths), then the others.
  const specifiers = [...exported.packages.keys()];
  const order = [
    ...specifiers.filter((p) => p === own || p.startsWith(`${own}/`)),
    ...specifiers.filter((p) => p !== own && !p.startsWith(`${own}/`)),
  ];
  const header: string[] = [];
  for (const name of [...used].sort()) {
    if (imported.has(name)) continue;
    const from = order.find((pkg) => exported.packages.get(pkg)?.has(name));
    if (from !== undefined) header.push(`import { ${name} } from '${from}';`);
    else if (exported.files.get(ownFile)?.has(name)) {
      const specifier = posix(relative(dirname(path), ownFile)).replace(/\.ts$/, '.js');
      header.push(`import { ${name} } from '${specifier.startsWith('.') ? specifier : `./${specifier}`}';`);
    } else if (Object.hasOwn(LIBRARY_IMPORTS, name)) header.push(LIBRARY_IMPORTS[name]!);
    // Own keys only: `toString` in an example is not Object.prototype's.
    else if (Object.hasOwn(PRELUDE, name)) header.push(PRELUDE[name]!);
  }
  const text: string[] = [`// ${example.file}:${example.line}`, ...header];
  const lines: (number | null)[] = text.map(() => null);
  example.code.forEach((line, i) => {
    if (importLines.has(i)) {
      text.push(line.text);
      lines.push(line.line);
    }
  });
  text.push('{');
  lines.push(null);
  example.code.forEach((line, i) => {
    text.push(importLines.has(i) ? '' : line.text);
    lines.push(line.line);
  });
  text.push('}', 'export {};', '');
  lines.push(null, null, null);
  return { path, example, text: text.join('\n'), lines };
}

function compilerOptions(root: string): ts.CompilerOptions {
  const base = ts.readConfigFile(join(root, 'tsconfig.base.json'), ts.sys.readFile);
  if (base.error) throw new Error(ts.flattenDiagnosticMessageText(base.error.messageText, '\n'));
  const { options } = ts.parseJsonConfigFileContent(base.config, ts.sys, root);
  return {
    ...options,
    noEmit: true,
    declaration: false,
    sourceMap: false,
    allowImportingTsExtensions: true,
    skipLibCheck: true,
    jsx: ts.JsxEmit.ReactJSX,
    // Examples import names (types too) as users do, and may leave some unused.
    verbatimModuleSyntax: false,
    isolatedModules: false,
    // The workspace packages from their sources, whoever links them where.
    baseUrl: root,
    paths: Object.fromEntries(entryPoints(root).map(({ specifier, file }) => [specifier, [file]])),
  };
}

/** Every entry point of every package (`exports` in its package.json), as an import specifier and a file. */
function entryPoints(root: string): { specifier: string; file: string }[] {
  return readdirSync(join(root, 'packages')).flatMap((name) => {
    const manifest = join(root, 'packages', name, 'package.json');
    if (!statSync(manifest, { throwIfNoEntry: false })?.isFile()) return [];
    const { name: packageName, exports } = JSON.parse(readFileSync(manifest, 'utf8')) as {
      name: string;
      exports?: Record<string, unknown>;
    };
    return Object.entries(exports ?? {}).flatMap(([subpath, target]) =>
      typeof target === 'string' && target.endsWith('.ts')
        ? [{ specifier: `${packageName}${subpath.slice(1)}`, file: join('packages', name, target) }]
        : [],
    );
  });
}

/** The names each package's entry point, and each source file with examples, exports. */
function exportsOf(root: string, files: readonly string[], options: ts.CompilerOptions): Exports {
  const entries = entryPoints(root).map(({ specifier, file }) => [specifier, join(root, file)] as const);
  const program = ts.createProgram({
    rootNames: [...entries.map(([, entry]) => entry), ...files],
    options,
  });
  const checker = program.getTypeChecker();
  const names = (path: string): Set<string> => {
    const sourceFile = program.getSourceFile(path);
    const symbol = sourceFile && checker.getSymbolAtLocation(sourceFile);
    return new Set(symbol ? checker.getExportsOfModule(symbol).map((s) => s.name) : []);
  };
  return {
    packages: new Map(entries.map(([name, entry]) => [name, names(entry)])),
    files: new Map(files.map((file) => [file, names(file)])),
  };
}

export interface Report {
  readonly examples: readonly Example[];
  readonly modules: readonly Module[];
  readonly failures: readonly Failure[];
}

/** Finds, wraps and type-checks every example. */
export function checkExamples(root = ROOT): Report {
  const files = exampleSources(root);
  const examples = [
    ...files.flatMap((file) => extractExamples(file, root)),
    ...MARKDOWN_PAGES.map((page) => join(root, page))
      .filter((page) => statSync(page, { throwIfNoEntry: false })?.isFile())
      .flatMap((page) => extractMarkdownExamples(page, root)),
  ];
  const options = compilerOptions(root);
  const withExamples = [...new Set(examples.map((e) => join(root, e.file)))];
  const exported = exportsOf(root, withExamples, options);
  const modules = examples
    .map((example, i) => ({ example, i }))
    .filter(({ example }) => example.language === 'ts')
    .map(({ example, i }) => buildModule(root, example, exported, i));
  const byPath = new Map(modules.map((m) => [m.path, m]));

  const host = ts.createCompilerHost(options, true);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const module = byPath.get(fileName);
    return module
      ? ts.createSourceFile(
          fileName,
          module.text,
          languageVersion,
          true,
          fileName.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS,
        )
      : getSourceFile.call(host, fileName, languageVersion, onError, shouldCreate);
  };
  host.fileExists = (fileName) => byPath.has(fileName) || fileExists.call(host, fileName);
  host.readFile = (fileName) => byPath.get(fileName)?.text ?? readFile.call(host, fileName);
  const program = ts.createProgram({ rootNames: [...byPath.keys()], options, host });

  const failures: Failure[] = [];
  for (const example of examples.filter((e) => e.language === 'json')) {
    try {
      JSON.parse(example.code.map((l) => l.text).join('\n'));
    } catch (error) {
      const message = `invalid JSON: ${(error as Error).message}`;
      failures.push({ file: example.file, line: example.code[0]!.line, example: example.line, message });
    }
  }
  for (const module of modules) {
    const sourceFile = program.getSourceFile(module.path)!;
    // An example that does not parse (prose, JSON, shell) says so once, not once per word.
    const syntax = program.getSyntacticDiagnostics(sourceFile);
    const diagnostics = syntax.length > 0 ? syntax.slice(0, 1) : program.getSemanticDiagnostics(sourceFile);
    const seen = new Set<string>();
    for (const diagnostic of diagnostics) {
      const at =
        diagnostic.start === undefined ? 0 : sourceFile.getLineAndCharacterOfPosition(diagnostic.start).line;
      const line = module.lines[at] ?? module.example.line;
      const message = `TS${diagnostic.code}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n  ')}`;
      if (seen.has(`${line} ${message}`)) continue;
      seen.add(`${line} ${message}`);
      failures.push({ file: module.example.file, line, example: module.example.line, message });
    }
  }
  return { examples, modules, failures };
}

/** One line per failure: `file:line: TS1234: message (example at line n)`. */
export function formatFailures(failures: readonly Failure[]): string {
  return failures
    .map(
      (f) => `${f.file}:${f.line}: ${f.message}${f.line === f.example ? '' : ` (example at :${f.example})`}`,
    )
    .join('\n');
}

function main(argv: readonly string[]): number {
  const started = performance.now();
  const report = checkExamples();
  const show = argv[argv.indexOf('--show') + 1];
  if (argv.includes('--show') && show !== undefined) {
    const [file, line] = show.split(':');
    const shown = report.modules.filter(
      (m) => m.example.file === file && (line === undefined || m.example.line === Number(line)),
    );
    for (const module of shown) console.log(`${module.text}\n`);
    if (shown.length === 0) console.log(`no example at ${show}`);
  }
  if (argv.includes('--list')) {
    for (const e of report.examples) console.log(`${e.file}:${e.line}  ${e.code[0]?.text.trim() ?? ''}`);
  }
  const files = new Set(report.examples.map((e) => e.file)).size;
  const failed = new Set(report.failures.map((f) => `${f.file}:${f.example}`)).size;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (report.failures.length > 0) console.log(formatFailures(report.failures));
  console.log(
    `${report.examples.length} examples in ${files} files checked in ${seconds}s: ` +
      (failed === 0 ? 'all pass' : `${failed} fail (${report.failures.length} errors)`),
  );
  return failed === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && basename(process.argv[1]) === basename(fileURLToPath(import.meta.url))) {
  process.exitCode = main(process.argv.slice(2));
}
