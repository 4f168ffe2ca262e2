import { createRequire as __sfdCreateRequire } from 'node:module';
import { fileURLToPath as __sfdFileURLToPath } from 'node:url';
import { dirname as __sfdDirname } from 'node:path';
const __filename = __sfdFileURLToPath(import.meta.url);
const __dirname = __sfdDirname(__filename);
const require = __sfdCreateRequire(import.meta.url);
import { readdirSync, lstatSync, statSync, realpathSync, readlinkSync, readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stat as stat$1 } from 'node:fs/promises';
import * as os from 'os';
import os__default, { EOL } from 'os';
import * as require$$0 from 'crypto';
import * as fs from 'fs';
import { promises, constants } from 'fs';
import * as path from 'path';
import 'string_decoder';
import 'events';
import 'child_process';
import assert from 'assert';
import 'timers';
import { a as progressText, R as RunBarrier, n as notAttempted, e as errorMessage, g as batchesOf, h as failuresTolerated, c as formatDuration, w as waitUnlessStopped, M as Minimatch, I as InputError, j as checkUnderTarget, k as localFileError, t as toPosixSegments, o as oneLine, f as formatBytes, m as parseInputs, D as DeployError, q as createLocalHasher, r as newRunToken, s as withJump, u as fanOut, v as MAX_BYTES_IN_MEMORY } from './inputs.js';
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import 'stream';
import 'util';
import nodePath__default, { sep, isAbsolute, join } from 'node:path';

// We use any as a valid input type
/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Sanitizes an input into a string so it can be passed into issueCommand safely
 * @param input input to sanitize into a string
 */
function toCommandValue(input) {
    if (input === null || input === undefined) {
        return '';
    }
    else if (typeof input === 'string' || input instanceof String) {
        return input;
    }
    return JSON.stringify(input);
}
/**
 *
 * @param annotationProperties
 * @returns The command properties to send with the actual annotation command
 * See IssueCommandProperties: https://github.com/actions/runner/blob/main/src/Runner.Worker/ActionCommandManager.cs#L646
 */
function toCommandProperties(annotationProperties) {
    if (!Object.keys(annotationProperties).length) {
        return {};
    }
    return {
        title: annotationProperties.title,
        file: annotationProperties.file,
        line: annotationProperties.startLine,
        endLine: annotationProperties.endLine,
        col: annotationProperties.startColumn,
        endColumn: annotationProperties.endColumn
    };
}

/**
 * Issues a command to the GitHub Actions runner
 *
 * @param command - The command name to issue
 * @param properties - Additional properties for the command (key-value pairs)
 * @param message - The message to include with the command
 * @remarks
 * This function outputs a specially formatted string to stdout that the Actions
 * runner interprets as a command. These commands can control workflow behavior,
 * set outputs, create annotations, mask values, and more.
 *
 * Command Format:
 *   ::name key=value,key=value::message
 *
 * @example
 * ```typescript
 * // Issue a warning annotation
 * issueCommand('warning', {}, 'This is a warning message');
 * // Output: ::warning::This is a warning message
 *
 * // Set an environment variable
 * issueCommand('set-env', { name: 'MY_VAR' }, 'some value');
 * // Output: ::set-env name=MY_VAR::some value
 *
 * // Add a secret mask
 * issueCommand('add-mask', {}, 'secretValue123');
 * // Output: ::add-mask::secretValue123
 * ```
 *
 * @internal
 * This is an internal utility function that powers the public API functions
 * such as setSecret, warning, error, and exportVariable.
 */
function issueCommand(command, properties, message) {
    const cmd = new Command(command, properties, message);
    process.stdout.write(cmd.toString() + os.EOL);
}
function issue(name, message = '') {
    issueCommand(name, {}, message);
}
const CMD_STRING = '::';
class Command {
    constructor(command, properties, message) {
        if (!command) {
            command = 'missing.command';
        }
        this.command = command;
        this.properties = properties;
        this.message = message;
    }
    toString() {
        let cmdStr = CMD_STRING + this.command;
        if (this.properties && Object.keys(this.properties).length > 0) {
            cmdStr += ' ';
            let first = true;
            for (const key in this.properties) {
                if (this.properties.hasOwnProperty(key)) {
                    const val = this.properties[key];
                    if (val) {
                        if (first) {
                            first = false;
                        }
                        else {
                            cmdStr += ',';
                        }
                        cmdStr += `${key}=${escapeProperty(val)}`;
                    }
                }
            }
        }
        cmdStr += `${CMD_STRING}${escapeData(this.message)}`;
        return cmdStr;
    }
}
function escapeData(s) {
    return toCommandValue(s)
        .replace(/%/g, '%25')
        .replace(/\r/g, '%0D')
        .replace(/\n/g, '%0A');
}
function escapeProperty(s) {
    return toCommandValue(s)
        .replace(/%/g, '%25')
        .replace(/\r/g, '%0D')
        .replace(/\n/g, '%0A')
        .replace(/:/g, '%3A')
        .replace(/,/g, '%2C');
}

// For internal use, subject to change.
// We use any as a valid input type
/* eslint-disable @typescript-eslint/no-explicit-any */
function issueFileCommand(command, message) {
    const filePath = process.env[`GITHUB_${command}`];
    if (!filePath) {
        throw new Error(`Unable to find environment variable for file command ${command}`);
    }
    if (!fs.existsSync(filePath)) {
        throw new Error(`Missing file at path: ${filePath}`);
    }
    fs.appendFileSync(filePath, `${toCommandValue(message)}${os.EOL}`, {
        encoding: 'utf8'
    });
}
function prepareKeyValueMessage(key, value) {
    const delimiter = `ghadelimiter_${require$$0.randomUUID()}`;
    const convertedValue = toCommandValue(value);
    // These should realistically never happen, but just in case someone finds a
    // way to exploit uuid generation let's not allow keys or values that contain
    // the delimiter.
    if (key.includes(delimiter)) {
        throw new Error(`Unexpected input: name should not contain the delimiter "${delimiter}"`);
    }
    if (convertedValue.includes(delimiter)) {
        throw new Error(`Unexpected input: value should not contain the delimiter "${delimiter}"`);
    }
    return `${key}<<${delimiter}${os.EOL}${convertedValue}${os.EOL}${delimiter}`;
}

(undefined && undefined.__awaiter) || function (thisArg, _arguments, P, generator) {
    function adopt(value) { return value instanceof P ? value : new P(function (resolve) { resolve(value); }); }
    return new (P || (P = Promise))(function (resolve, reject) {
        function fulfilled(value) { try { step(generator.next(value)); } catch (e) { reject(e); } }
        function rejected(value) { try { step(generator["throw"](value)); } catch (e) { reject(e); } }
        function step(result) { result.done ? resolve(result.value) : adopt(result.value).then(fulfilled, rejected); }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
    });
};

var __awaiter$2 = (undefined && undefined.__awaiter) || function (thisArg, _arguments, P, generator) {
    function adopt(value) { return value instanceof P ? value : new P(function (resolve) { resolve(value); }); }
    return new (P || (P = Promise))(function (resolve, reject) {
        function fulfilled(value) { try { step(generator.next(value)); } catch (e) { reject(e); } }
        function rejected(value) { try { step(generator["throw"](value)); } catch (e) { reject(e); } }
        function step(result) { result.done ? resolve(result.value) : adopt(result.value).then(fulfilled, rejected); }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
    });
};
const { access, appendFile, writeFile } = promises;
const SUMMARY_ENV_VAR = 'GITHUB_STEP_SUMMARY';
class Summary {
    constructor() {
        this._buffer = '';
    }
    /**
     * Finds the summary file path from the environment, rejects if env var is not found or file does not exist
     * Also checks r/w permissions.
     *
     * @returns step summary file path
     */
    filePath() {
        return __awaiter$2(this, void 0, void 0, function* () {
            if (this._filePath) {
                return this._filePath;
            }
            const pathFromEnv = process.env[SUMMARY_ENV_VAR];
            if (!pathFromEnv) {
                throw new Error(`Unable to find environment variable for $${SUMMARY_ENV_VAR}. Check if your runtime environment supports job summaries.`);
            }
            try {
                yield access(pathFromEnv, constants.R_OK | constants.W_OK);
            }
            catch (_a) {
                throw new Error(`Unable to access summary file: '${pathFromEnv}'. Check if the file has correct read/write permissions.`);
            }
            this._filePath = pathFromEnv;
            return this._filePath;
        });
    }
    /**
     * Wraps content in an HTML tag, adding any HTML attributes
     *
     * @param {string} tag HTML tag to wrap
     * @param {string | null} content content within the tag
     * @param {[attribute: string]: string} attrs key-value list of HTML attributes to add
     *
     * @returns {string} content wrapped in HTML element
     */
    wrap(tag, content, attrs = {}) {
        const htmlAttrs = Object.entries(attrs)
            .map(([key, value]) => ` ${key}="${value}"`)
            .join('');
        if (!content) {
            return `<${tag}${htmlAttrs}>`;
        }
        return `<${tag}${htmlAttrs}>${content}</${tag}>`;
    }
    /**
     * Writes text in the buffer to the summary buffer file and empties buffer. Will append by default.
     *
     * @param {SummaryWriteOptions} [options] (optional) options for write operation
     *
     * @returns {Promise<Summary>} summary instance
     */
    write(options) {
        return __awaiter$2(this, void 0, void 0, function* () {
            const overwrite = !!(options === null || options === void 0 ? void 0 : options.overwrite);
            const filePath = yield this.filePath();
            const writeFunc = overwrite ? writeFile : appendFile;
            yield writeFunc(filePath, this._buffer, { encoding: 'utf8' });
            return this.emptyBuffer();
        });
    }
    /**
     * Clears the summary buffer and wipes the summary file
     *
     * @returns {Summary} summary instance
     */
    clear() {
        return __awaiter$2(this, void 0, void 0, function* () {
            return this.emptyBuffer().write({ overwrite: true });
        });
    }
    /**
     * Returns the current summary buffer as a string
     *
     * @returns {string} string of summary buffer
     */
    stringify() {
        return this._buffer;
    }
    /**
     * If the summary buffer is empty
     *
     * @returns {boolen} true if the buffer is empty
     */
    isEmptyBuffer() {
        return this._buffer.length === 0;
    }
    /**
     * Resets the summary buffer without writing to summary file
     *
     * @returns {Summary} summary instance
     */
    emptyBuffer() {
        this._buffer = '';
        return this;
    }
    /**
     * Adds raw text to the summary buffer
     *
     * @param {string} text content to add
     * @param {boolean} [addEOL=false] (optional) append an EOL to the raw text (default: false)
     *
     * @returns {Summary} summary instance
     */
    addRaw(text, addEOL = false) {
        this._buffer += text;
        return addEOL ? this.addEOL() : this;
    }
    /**
     * Adds the operating system-specific end-of-line marker to the buffer
     *
     * @returns {Summary} summary instance
     */
    addEOL() {
        return this.addRaw(EOL);
    }
    /**
     * Adds an HTML codeblock to the summary buffer
     *
     * @param {string} code content to render within fenced code block
     * @param {string} lang (optional) language to syntax highlight code
     *
     * @returns {Summary} summary instance
     */
    addCodeBlock(code, lang) {
        const attrs = Object.assign({}, (lang && { lang }));
        const element = this.wrap('pre', this.wrap('code', code), attrs);
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds an HTML list to the summary buffer
     *
     * @param {string[]} items list of items to render
     * @param {boolean} [ordered=false] (optional) if the rendered list should be ordered or not (default: false)
     *
     * @returns {Summary} summary instance
     */
    addList(items, ordered = false) {
        const tag = ordered ? 'ol' : 'ul';
        const listItems = items.map(item => this.wrap('li', item)).join('');
        const element = this.wrap(tag, listItems);
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds an HTML table to the summary buffer
     *
     * @param {SummaryTableCell[]} rows table rows
     *
     * @returns {Summary} summary instance
     */
    addTable(rows) {
        const tableBody = rows
            .map(row => {
            const cells = row
                .map(cell => {
                if (typeof cell === 'string') {
                    return this.wrap('td', cell);
                }
                const { header, data, colspan, rowspan } = cell;
                const tag = header ? 'th' : 'td';
                const attrs = Object.assign(Object.assign({}, (colspan && { colspan })), (rowspan && { rowspan }));
                return this.wrap(tag, data, attrs);
            })
                .join('');
            return this.wrap('tr', cells);
        })
            .join('');
        const element = this.wrap('table', tableBody);
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds a collapsable HTML details element to the summary buffer
     *
     * @param {string} label text for the closed state
     * @param {string} content collapsable content
     *
     * @returns {Summary} summary instance
     */
    addDetails(label, content) {
        const element = this.wrap('details', this.wrap('summary', label) + content);
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds an HTML image tag to the summary buffer
     *
     * @param {string} src path to the image you to embed
     * @param {string} alt text description of the image
     * @param {SummaryImageOptions} options (optional) addition image attributes
     *
     * @returns {Summary} summary instance
     */
    addImage(src, alt, options) {
        const { width, height } = options || {};
        const attrs = Object.assign(Object.assign({}, (width && { width })), (height && { height }));
        const element = this.wrap('img', null, Object.assign({ src, alt }, attrs));
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds an HTML section heading element
     *
     * @param {string} text heading text
     * @param {number | string} [level=1] (optional) the heading level, default: 1
     *
     * @returns {Summary} summary instance
     */
    addHeading(text, level) {
        const tag = `h${level}`;
        const allowedTag = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].includes(tag)
            ? tag
            : 'h1';
        const element = this.wrap(allowedTag, text);
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds an HTML thematic break (<hr>) to the summary buffer
     *
     * @returns {Summary} summary instance
     */
    addSeparator() {
        const element = this.wrap('hr', null);
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds an HTML line break (<br>) to the summary buffer
     *
     * @returns {Summary} summary instance
     */
    addBreak() {
        const element = this.wrap('br', null);
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds an HTML blockquote to the summary buffer
     *
     * @param {string} text quote text
     * @param {string} cite (optional) citation url
     *
     * @returns {Summary} summary instance
     */
    addQuote(text, cite) {
        const attrs = Object.assign({}, (cite && { cite }));
        const element = this.wrap('blockquote', text, attrs);
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds an HTML anchor tag to the summary buffer
     *
     * @param {string} text link text/content
     * @param {string} href hyperlink
     *
     * @returns {Summary} summary instance
     */
    addLink(text, href) {
        const element = this.wrap('a', text, { href });
        return this.addRaw(element).addEOL();
    }
}
const _summary = new Summary();
const summary = _summary;

(undefined && undefined.__awaiter) || function (thisArg, _arguments, P, generator) {
    function adopt(value) { return value instanceof P ? value : new P(function (resolve) { resolve(value); }); }
    return new (P || (P = Promise))(function (resolve, reject) {
        function fulfilled(value) { try { step(generator.next(value)); } catch (e) { reject(e); } }
        function rejected(value) { try { step(generator["throw"](value)); } catch (e) { reject(e); } }
        function step(result) { result.done ? resolve(result.value) : adopt(result.value).then(fulfilled, rejected); }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
    });
};
const { chmod, copyFile, lstat, mkdir, open, readdir, rename, rm, rmdir, stat, symlink, unlink } = fs.promises;
// export const {open} = 'fs'
process.platform === 'win32';
fs.constants.O_RDONLY;

(undefined && undefined.__awaiter) || function (thisArg, _arguments, P, generator) {
    function adopt(value) { return value instanceof P ? value : new P(function (resolve) { resolve(value); }); }
    return new (P || (P = Promise))(function (resolve, reject) {
        function fulfilled(value) { try { step(generator.next(value)); } catch (e) { reject(e); } }
        function rejected(value) { try { step(generator["throw"](value)); } catch (e) { reject(e); } }
        function step(result) { result.done ? resolve(result.value) : adopt(result.value).then(fulfilled, rejected); }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
    });
};

(undefined && undefined.__awaiter) || function (thisArg, _arguments, P, generator) {
    function adopt(value) { return value instanceof P ? value : new P(function (resolve) { resolve(value); }); }
    return new (P || (P = Promise))(function (resolve, reject) {
        function fulfilled(value) { try { step(generator.next(value)); } catch (e) { reject(e); } }
        function rejected(value) { try { step(generator["throw"](value)); } catch (e) { reject(e); } }
        function step(result) { result.done ? resolve(result.value) : adopt(result.value).then(fulfilled, rejected); }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
    });
};
/* eslint-disable @typescript-eslint/unbound-method */
process.platform === 'win32';

(undefined && undefined.__awaiter) || function (thisArg, _arguments, P, generator) {
    function adopt(value) { return value instanceof P ? value : new P(function (resolve) { resolve(value); }); }
    return new (P || (P = Promise))(function (resolve, reject) {
        function fulfilled(value) { try { step(generator.next(value)); } catch (e) { reject(e); } }
        function rejected(value) { try { step(generator["throw"](value)); } catch (e) { reject(e); } }
        function step(result) { result.done ? resolve(result.value) : adopt(result.value).then(fulfilled, rejected); }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
    });
};

(undefined && undefined.__awaiter) || function (thisArg, _arguments, P, generator) {
    function adopt(value) { return value instanceof P ? value : new P(function (resolve) { resolve(value); }); }
    return new (P || (P = Promise))(function (resolve, reject) {
        function fulfilled(value) { try { step(generator.next(value)); } catch (e) { reject(e); } }
        function rejected(value) { try { step(generator["throw"](value)); } catch (e) { reject(e); } }
        function step(result) { result.done ? resolve(result.value) : adopt(result.value).then(fulfilled, rejected); }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
    });
};
os__default.platform();
os__default.arch();

(undefined && undefined.__awaiter) || function (thisArg, _arguments, P, generator) {
    function adopt(value) { return value instanceof P ? value : new P(function (resolve) { resolve(value); }); }
    return new (P || (P = Promise))(function (resolve, reject) {
        function fulfilled(value) { try { step(generator.next(value)); } catch (e) { reject(e); } }
        function rejected(value) { try { step(generator["throw"](value)); } catch (e) { reject(e); } }
        function step(result) { result.done ? resolve(result.value) : adopt(result.value).then(fulfilled, rejected); }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
    });
};
/**
 * The code to exit an action
 */
var ExitCode;
(function (ExitCode) {
    /**
     * A code indicating that the action was successful
     */
    ExitCode[ExitCode["Success"] = 0] = "Success";
    /**
     * A code indicating that the action was a failure
     */
    ExitCode[ExitCode["Failure"] = 1] = "Failure";
})(ExitCode || (ExitCode = {}));
/**
 * Registers a secret which will get masked from logs
 *
 * @param secret - Value of the secret to be masked
 * @remarks
 * This function instructs the Actions runner to mask the specified value in any
 * logs produced during the workflow run. Once registered, the secret value will
 * be replaced with asterisks (***) whenever it appears in console output, logs,
 * or error messages.
 *
 * This is useful for protecting sensitive information such as:
 * - API keys
 * - Access tokens
 * - Authentication credentials
 * - URL parameters containing signatures (SAS tokens)
 *
 * Note that masking only affects future logs; any previous appearances of the
 * secret in logs before calling this function will remain unmasked.
 *
 * @example
 * ```typescript
 * // Register an API token as a secret
 * const apiToken = "abc123xyz456";
 * setSecret(apiToken);
 *
 * // Now any logs containing this value will show *** instead
 * console.log(`Using token: ${apiToken}`); // Outputs: "Using token: ***"
 * ```
 */
function setSecret(secret) {
    issueCommand('add-mask', {}, secret);
}
/**
 * Gets the value of an input.
 * Unless trimWhitespace is set to false in InputOptions, the value is also trimmed.
 * Returns an empty string if the value is not defined.
 *
 * @param     name     name of the input to get
 * @param     options  optional. See InputOptions.
 * @returns   string
 */
function getInput(name, options) {
    const val = process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] || '';
    return val.trim();
}
/**
 * Sets the value of an output.
 *
 * @param     name     name of the output to set
 * @param     value    value to store. Non-string values will be converted to a string via JSON.stringify
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function setOutput(name, value) {
    const filePath = process.env['GITHUB_OUTPUT'] || '';
    if (filePath) {
        return issueFileCommand('OUTPUT', prepareKeyValueMessage(name, value));
    }
    process.stdout.write(os.EOL);
    issueCommand('set-output', { name }, toCommandValue(value));
}
//-----------------------------------------------------------------------
// Results
//-----------------------------------------------------------------------
/**
 * Sets the action status to failed.
 * When the action exits it will be with an exit code of 1
 * @param message add error issue message
 */
function setFailed(message) {
    process.exitCode = ExitCode.Failure;
    error(message);
}
/**
 * Writes debug message to user log
 * @param message debug message
 */
function debug(message) {
    issueCommand('debug', {}, message);
}
/**
 * Adds an error issue
 * @param message error issue message. Errors will be converted to string via toString()
 * @param properties optional properties to add to the annotation.
 */
function error(message, properties = {}) {
    issueCommand('error', toCommandProperties(properties), message instanceof Error ? message.toString() : message);
}
/**
 * Adds a warning issue
 * @param message warning issue message. Errors will be converted to string via toString()
 * @param properties optional properties to add to the annotation.
 */
function warning(message, properties = {}) {
    issueCommand('warning', toCommandProperties(properties), message instanceof Error ? message.toString() : message);
}
/**
 * Adds a notice issue
 * @param message notice issue message. Errors will be converted to string via toString()
 * @param properties optional properties to add to the annotation.
 */
function notice(message, properties = {}) {
    issueCommand('notice', toCommandProperties(properties), message instanceof Error ? message.toString() : message);
}
/**
 * Writes info to log with console.log.
 * @param message info message
 */
function info(message) {
    process.stdout.write(message + os.EOL);
}
/**
 * Begin an output group.
 *
 * Output until the next `groupEnd` will be foldable in this group
 *
 * @param name The name of the output group
 */
function startGroup(name) {
    issue('group', name);
}
/**
 * End an output group.
 */
function endGroup() {
    issue('endgroup');
}

// The one module that talks to @actions/core: inputs, masking, outputs, logs and the summary.
// PEM armour lines are public boilerplate; masking them would only hide our own messages.
const ARMOUR = /^-----(BEGIN|END) [A-Z0-9 ]+-----$/;
/**
 * What masking a secret masks: the value, and each line of a multi-line one (a key), but
 * lines too short to be secret and PEM armour.
 */
function maskedParts(value) {
    if (value === '')
        return [];
    if (!value.includes('\n'))
        return [value];
    const lines = value.split('\n').map((part) => part.trim());
    return [value, ...lines.filter((line) => line.length >= 6 && !ARMOUR.test(line))];
}
function createActionIO() {
    return {
        getInput: (name) => getInput(name),
        setSecret: (value) => {
            for (const part of maskedParts(value))
                setSecret(part);
        },
        setOutput: (name, value) => setOutput(name, value),
        info: (line) => info(line),
        notice: (message) => notice(message),
        warning: (message, title) => warning(message, title === undefined ? {} : { title }),
        error: (message, title) => error(message, title === undefined ? {} : { title }),
        group: (title, lines) => {
            startGroup(title);
            for (const line of lines) {
                if (line.debug === true)
                    debug(line.text);
                else
                    info(line.text);
            }
            endGroup();
        },
        writeSummary: async (markdown) => {
            if (process.env.GITHUB_STEP_SUMMARY === undefined || process.env.GITHUB_STEP_SUMMARY === '')
                return;
            await summary.addRaw(markdown, true).write();
        },
        setFailed: (message) => setFailed(message),
        markFailed: () => {
            process.exitCode = 1;
        },
        progress: (hosts) => {
            for (const host of hosts)
                info(`progress: ${host.label}: ${progressText(host)}`);
        }
    };
}

// The fan-out spread over worker threads: each thread runs fanOut() for its share of the hosts
// (its own connections, encryption, reads and local hashing), and sends back each host's
// progress, result and log; this thread reports them as one fan-out would. Cancelling the run
// cancels every thread's hosts.
/** A host whose thread ended before it reported: failed, whatever it had done. */
function lostHost(label, files, why) {
    return {
        ...notAttempted(label, files, ''),
        status: 'failed',
        error: `its thread ended before the host's result came back: ${why}`
    };
}
/** One thread's hosts, from its start to its end; resolves once it has exited. */
function runThread(options, threads, lane, results, barrier) {
    const { plan, reporter, signal } = options;
    const hosts = threads.lanes[lane] ?? [];
    const init = {
        run: threads.run,
        plan,
        hosts,
        threads: threads.lanes.length,
        maxParallel: threads.shares[lane] ?? 1,
        memoryBytes: threads.memoryBytes,
        progressIntervalMs: options.progressIntervalMs,
        followOnThisMachine: options.followOnThisMachine,
        runToken: threads.runToken
    };
    const worker = new Worker(threads.workerUrl, { workerData: init });
    const abort = () => {
        const message = { type: 'abort', reason: errorMessage(signal.reason) };
        worker.postMessage(message);
    };
    const voted = new Set();
    signal.addEventListener('abort', abort, { once: true });
    if (signal.aborted)
        abort();
    let failure = 'it exited';
    let reported = 0;
    worker.on('message', (message) => {
        if (message.type === 'progress') {
            reporter.progress(message.hosts);
            return;
        }
        if (message.type === 'vote') {
            voted.add(message.phase);
            void barrier.vote(message.phase, message.ok).then((ok) => {
                const verdict = { type: 'verdict', phase: message.phase, ok };
                worker.postMessage(verdict);
            });
            return;
        }
        results[message.index] = message.result;
        reporter.hostDone(message.result, message.log);
        // Every host has its result: nothing the thread still holds matters.
        reported += 1;
        if (reported === hosts.length)
            void worker.terminate();
    });
    worker.on('error', (error) => {
        failure = errorMessage(error);
    });
    return new Promise((done) => {
        worker.on('exit', (code) => {
            signal.removeEventListener('abort', abort);
            // A thread that ended before it voted holds the other threads' hosts.
            if (!voted.has('ready'))
                void barrier.vote('ready', false);
            else if (!voted.has('switched'))
                void barrier.vote('switched', false);
            for (const index of hosts) {
                if (results[index] !== undefined)
                    continue;
                const label = options.settings.hosts[index]?.label ?? '?';
                const result = lostHost(label, plan.files.length, `${failure} (exit code ${code})`);
                results[index] = result;
                reporter.hostDone(result, []);
            }
            done();
        });
    });
}
async function fanOutInThreads(options, threads) {
    const results = new Array(options.settings.hosts.length);
    const barrier = new RunBarrier(threads.lanes.length);
    await Promise.all(threads.lanes.map((_, lane) => runThread(options, threads, lane, results, barrier)));
    return results.map((result, index) => result ??
        notAttempted(options.settings.hosts[index]?.label ?? '?', options.plan.files.length, 'not attempted'));
}

// How many threads deploy a run's hosts, and which hosts each one deploys. Each thread encrypts
// for its own hosts, so N hosts can use up to N of the runner's cores.
/**
 * `auto` spreads hosts over threads from this many cores on: below it a second thread costs
 * more CPU than it frees (bench/README.md, "Threads").
 */
const AUTO_THREADS_MIN_CORES = 4;
/**
 * Threads for a run: the runner's cores (or the number given), never more than the hosts, nor
 * than max-parallel (each thread deploys at least one host at a time).
 */
function threadCount(setting, hosts, maxParallel, cores = availableParallelism()) {
    const wanted = setting === 'auto' ? (cores >= AUTO_THREADS_MIN_CORES ? cores : 1) : setting;
    return Math.max(1, Math.min(wanted, hosts, maxParallel));
}
/** What hosts share a connection to: the first jump host, or nothing. */
function chainOf(host) {
    return host.jump[0]?.label;
}
/**
 * The hosts' indices, per thread: hosts behind the same first jump host on one thread (they
 * share its connection), the others dealt in input order to the thread with the fewest.
 */
function assignHosts(hosts, threads) {
    const lanes = Array.from({ length: threads }, () => []);
    const chains = new Map();
    const fewest = () => lanes.reduce((best, lane) => (lane.length < best.length ? lane : best), lanes[0] ?? []);
    hosts.forEach((host, index) => {
        const chain = chainOf(host);
        if (chain === undefined) {
            fewest().push(index);
            return;
        }
        let lane = chains.get(chain);
        if (lane === undefined) {
            lane = fewest();
            chains.set(chain, lane);
        }
        lane.push(index);
    });
    return lanes.filter((lane) => lane.length > 0);
}
/**
 * max-parallel shared between the threads: one host at a time each, then the rest dealt in turn
 * to those with hosts to spare, so that together they never exceed it.
 */
function parallelShares(lanes, maxParallel) {
    const shares = lanes.map(() => 1);
    let left = maxParallel - lanes.length;
    let dealt = true;
    while (left > 0 && dealt) {
        dealt = false;
        for (const [index, lane] of lanes.entries()) {
            const share = shares[index] ?? 0;
            if (left === 0 || share >= lane.length)
                continue;
            shares[index] = share + 1;
            left -= 1;
            dealt = true;
        }
    }
    return shares;
}

// The action's inputs by name (action.yml declares the same), which of them are secrets, and
// what reading them needs from the runner.
const INPUT_NAMES = [
    'host',
    'port',
    'username',
    'key',
    'key-path',
    'passphrase',
    'password',
    'known-hosts',
    'fingerprint',
    'insecure-ignore-host-key',
    'connect-timeout',
    'timeout',
    'source',
    'working-directory',
    'target',
    'strip-components',
    'if-no-files-found',
    'follow-symbolic-links',
    'max-parallel',
    'concurrency',
    'threads',
    'retries',
    'retry-delay',
    'verify',
    'atomic',
    'resume',
    'idle-timeout',
    'keepalive-interval',
    'preflight',
    'inventory',
    'select',
    'shard',
    'jump',
    'delete',
    'keep',
    'max-delete',
    'dry-run',
    'lock',
    'lock-wait',
    'releases',
    'release-name',
    'keep-releases',
    'shared-paths',
    'switch',
    'rollback',
    'batch-size',
    'batch-pause',
    'max-failures',
    'script-before',
    'script-after',
    'script-env',
    'script-timeout',
    'health-check',
    'health-check-url',
    'health-check-attempts',
    'health-check-interval',
    'rollback-on-failure'
];
/** Inputs whose values are secrets, masked before anything is logged. */
const SECRET_INPUTS = ['key', 'passphrase', 'password'];

// A rolling deploy: the hosts in input order, a batch at a time (`batch-size`), each batch
// finished (published, switched, script-after and health checks passed) before the next
// starts, `batch-pause` between. Once more hosts have failed than `max-failures` allows, no
// further batch starts: the hosts not started are skipped.
async function rollOut(rollout, labels, files, runBatch, signal, say, 
/** A host not started because the rollout stopped (reported as the others are). */
skipped = () => undefined) {
    const batches = batchesOf(rollout.batchSizes, labels.length);
    const tolerated = failuresTolerated(rollout.maxFailures, labels.length);
    const results = new Array(labels.length);
    let failed = 0;
    let stopped;
    for (const [at, batch] of batches.entries()) {
        const number = at + 1;
        if (stopped !== undefined) {
            for (const index of batch) {
                const result = {
                    ...notAttempted(labels[index] ?? '?', files, `not started: the rollout stopped ${stopped}`),
                    batch: number
                };
                results[index] = result;
                skipped(result);
            }
            continue;
        }
        if (at > 0 && rollout.batchPauseMs > 0) {
            say(`waiting ${formatDuration(rollout.batchPauseMs)} before batch ${number}`);
            await waitUnlessStopped(rollout.batchPauseMs, signal);
        }
        if (batches.length > 1)
            say(`batch ${number} of ${batches.length}: ${batch.length} host(s)`);
        const got = await runBatch(batch, number);
        batch.forEach((index, place) => {
            const result = got[place];
            if (result !== undefined)
                results[index] = { ...result, batch: number };
        });
        // A held host did not get the release either: it counts as the failure that held it does.
        failed += got.filter((result) => result.status === 'failed' || result.status === 'held').length;
        if (failed > tolerated && number < batches.length)
            stopped = `after batch ${number} of ${batches.length}: ${failed} host(s) failed, more than max-failures allows (${tolerated})`;
    }
    if (stopped !== undefined)
        say(`rollout stopped ${stopped}; the hosts not started are skipped`);
    return {
        results: results.map((result, index) => result ?? notAttempted(labels[index] ?? '?', files, 'not attempted')),
        stopped,
        batches: batches.length,
        tolerated
    };
}

/**
 * Returns a copy with defaults filled in.
 */
function getOptions(copy) {
    const result = {
        followSymbolicLinks: true,
        implicitDescendants: true,
        matchDirectories: true,
        omitBrokenSymbolicLinks: true,
        excludeHiddenFiles: false
    };
    if (copy) {
        if (typeof copy.followSymbolicLinks === 'boolean') {
            result.followSymbolicLinks = copy.followSymbolicLinks;
            debug(`followSymbolicLinks '${result.followSymbolicLinks}'`);
        }
        if (typeof copy.implicitDescendants === 'boolean') {
            result.implicitDescendants = copy.implicitDescendants;
            debug(`implicitDescendants '${result.implicitDescendants}'`);
        }
        if (typeof copy.matchDirectories === 'boolean') {
            result.matchDirectories = copy.matchDirectories;
            debug(`matchDirectories '${result.matchDirectories}'`);
        }
        if (typeof copy.omitBrokenSymbolicLinks === 'boolean') {
            result.omitBrokenSymbolicLinks = copy.omitBrokenSymbolicLinks;
            debug(`omitBrokenSymbolicLinks '${result.omitBrokenSymbolicLinks}'`);
        }
        if (typeof copy.excludeHiddenFiles === 'boolean') {
            result.excludeHiddenFiles = copy.excludeHiddenFiles;
            debug(`excludeHiddenFiles '${result.excludeHiddenFiles}'`);
        }
    }
    return result;
}

const IS_WINDOWS$4 = process.platform === 'win32';
/**
 * Similar to path.dirname except normalizes the path separators and slightly better handling for Windows UNC paths.
 *
 * For example, on Linux/macOS:
 * - `/               => /`
 * - `/hello          => /`
 *
 * For example, on Windows:
 * - `C:\             => C:\`
 * - `C:\hello        => C:\`
 * - `C:              => C:`
 * - `C:hello         => C:`
 * - `\               => \`
 * - `\hello          => \`
 * - `\\hello         => \\hello`
 * - `\\hello\world   => \\hello\world`
 */
function dirname(p) {
    // Normalize slashes and trim unnecessary trailing slash
    p = safeTrimTrailingSeparator(p);
    // Windows UNC root, e.g. \\hello or \\hello\world
    if (IS_WINDOWS$4 && /^\\\\[^\\]+(\\[^\\]+)?$/.test(p)) {
        return p;
    }
    // Get dirname
    let result = path.dirname(p);
    // Trim trailing slash for Windows UNC root, e.g. \\hello\world\
    if (IS_WINDOWS$4 && /^\\\\[^\\]+\\[^\\]+\\$/.test(result)) {
        result = safeTrimTrailingSeparator(result);
    }
    return result;
}
/**
 * Roots the path if not already rooted. On Windows, relative roots like `\`
 * or `C:` are expanded based on the current working directory.
 */
function ensureAbsoluteRoot(root, itemPath) {
    assert(root, `ensureAbsoluteRoot parameter 'root' must not be empty`);
    assert(itemPath, `ensureAbsoluteRoot parameter 'itemPath' must not be empty`);
    // Already rooted
    if (hasAbsoluteRoot(itemPath)) {
        return itemPath;
    }
    // Windows
    if (IS_WINDOWS$4) {
        // Check for itemPath like C: or C:foo
        if (itemPath.match(/^[A-Z]:[^\\/]|^[A-Z]:$/i)) {
            let cwd = process.cwd();
            assert(cwd.match(/^[A-Z]:\\/i), `Expected current directory to start with an absolute drive root. Actual '${cwd}'`);
            // Drive letter matches cwd? Expand to cwd
            if (itemPath[0].toUpperCase() === cwd[0].toUpperCase()) {
                // Drive only, e.g. C:
                if (itemPath.length === 2) {
                    // Preserve specified drive letter case (upper or lower)
                    return `${itemPath[0]}:\\${cwd.substr(3)}`;
                }
                // Drive + path, e.g. C:foo
                else {
                    if (!cwd.endsWith('\\')) {
                        cwd += '\\';
                    }
                    // Preserve specified drive letter case (upper or lower)
                    return `${itemPath[0]}:\\${cwd.substr(3)}${itemPath.substr(2)}`;
                }
            }
            // Different drive
            else {
                return `${itemPath[0]}:\\${itemPath.substr(2)}`;
            }
        }
        // Check for itemPath like \ or \foo
        else if (normalizeSeparators(itemPath).match(/^\\$|^\\[^\\]/)) {
            const cwd = process.cwd();
            assert(cwd.match(/^[A-Z]:\\/i), `Expected current directory to start with an absolute drive root. Actual '${cwd}'`);
            return `${cwd[0]}:\\${itemPath.substr(1)}`;
        }
    }
    assert(hasAbsoluteRoot(root), `ensureAbsoluteRoot parameter 'root' must have an absolute root`);
    // Otherwise ensure root ends with a separator
    if (root.endsWith('/') || (IS_WINDOWS$4 && root.endsWith('\\'))) ;
    else {
        // Append separator
        root += path.sep;
    }
    return root + itemPath;
}
/**
 * On Linux/macOS, true if path starts with `/`. On Windows, true for paths like:
 * `\\hello\share` and `C:\hello` (and using alternate separator).
 */
function hasAbsoluteRoot(itemPath) {
    assert(itemPath, `hasAbsoluteRoot parameter 'itemPath' must not be empty`);
    // Normalize separators
    itemPath = normalizeSeparators(itemPath);
    // Windows
    if (IS_WINDOWS$4) {
        // E.g. \\hello\share or C:\hello
        return itemPath.startsWith('\\\\') || /^[A-Z]:\\/i.test(itemPath);
    }
    // E.g. /hello
    return itemPath.startsWith('/');
}
/**
 * On Linux/macOS, true if path starts with `/`. On Windows, true for paths like:
 * `\`, `\hello`, `\\hello\share`, `C:`, and `C:\hello` (and using alternate separator).
 */
function hasRoot(itemPath) {
    assert(itemPath, `isRooted parameter 'itemPath' must not be empty`);
    // Normalize separators
    itemPath = normalizeSeparators(itemPath);
    // Windows
    if (IS_WINDOWS$4) {
        // E.g. \ or \hello or \\hello
        // E.g. C: or C:\hello
        return itemPath.startsWith('\\') || /^[A-Z]:/i.test(itemPath);
    }
    // E.g. /hello
    return itemPath.startsWith('/');
}
/**
 * Removes redundant slashes and converts `/` to `\` on Windows
 */
function normalizeSeparators(p) {
    p = p || '';
    // Windows
    if (IS_WINDOWS$4) {
        // Convert slashes on Windows
        p = p.replace(/\//g, '\\');
        // Remove redundant slashes
        const isUnc = /^\\\\+[^\\]/.test(p); // e.g. \\hello
        return (isUnc ? '\\' : '') + p.replace(/\\\\+/g, '\\'); // preserve leading \\ for UNC
    }
    // Remove redundant slashes
    return p.replace(/\/\/+/g, '/');
}
/**
 * Normalizes the path separators and trims the trailing separator (when safe).
 * For example, `/foo/ => /foo` but `/ => /`
 */
function safeTrimTrailingSeparator(p) {
    // Short-circuit if empty
    if (!p) {
        return '';
    }
    // Normalize separators
    p = normalizeSeparators(p);
    // No trailing slash
    if (!p.endsWith(path.sep)) {
        return p;
    }
    // Check '/' on Linux/macOS and '\' on Windows
    if (p === path.sep) {
        return p;
    }
    // On Windows check if drive root. E.g. C:\
    if (IS_WINDOWS$4 && /^[A-Z]:\\$/i.test(p)) {
        return p;
    }
    // Otherwise trim trailing slash
    return p.substr(0, p.length - 1);
}

/**
 * Indicates whether a pattern matches a path
 */
var MatchKind;
(function (MatchKind) {
    /** Not matched */
    MatchKind[MatchKind["None"] = 0] = "None";
    /** Matched if the path is a directory */
    MatchKind[MatchKind["Directory"] = 1] = "Directory";
    /** Matched if the path is a regular file */
    MatchKind[MatchKind["File"] = 2] = "File";
    /** Matched */
    MatchKind[MatchKind["All"] = 3] = "All";
})(MatchKind || (MatchKind = {}));

const IS_WINDOWS$3 = process.platform === 'win32';
/**
 * Given an array of patterns, returns an array of paths to search.
 * Duplicates and paths under other included paths are filtered out.
 */
function getSearchPaths(patterns) {
    // Ignore negate patterns
    patterns = patterns.filter(x => !x.negate);
    // Create a map of all search paths
    const searchPathMap = {};
    for (const pattern of patterns) {
        const key = IS_WINDOWS$3
            ? pattern.searchPath.toUpperCase()
            : pattern.searchPath;
        searchPathMap[key] = 'candidate';
    }
    const result = [];
    for (const pattern of patterns) {
        // Check if already included
        const key = IS_WINDOWS$3
            ? pattern.searchPath.toUpperCase()
            : pattern.searchPath;
        if (searchPathMap[key] === 'included') {
            continue;
        }
        // Check for an ancestor search path
        let foundAncestor = false;
        let tempKey = key;
        let parent = dirname(tempKey);
        while (parent !== tempKey) {
            if (searchPathMap[parent]) {
                foundAncestor = true;
                break;
            }
            tempKey = parent;
            parent = dirname(tempKey);
        }
        // Include the search pattern in the result
        if (!foundAncestor) {
            result.push(pattern.searchPath);
            searchPathMap[key] = 'included';
        }
    }
    return result;
}
/**
 * Matches the patterns against the path
 */
function match$1(patterns, itemPath) {
    let result = MatchKind.None;
    for (const pattern of patterns) {
        if (pattern.negate) {
            result &= ~pattern.match(itemPath);
        }
        else {
            result |= pattern.match(itemPath);
        }
    }
    return result;
}
/**
 * Checks whether to descend further into the directory
 */
function partialMatch(patterns, itemPath) {
    return patterns.some(x => !x.negate && x.partialMatch(itemPath));
}

const IS_WINDOWS$2 = process.platform === 'win32';
/**
 * Helper class for parsing paths into segments
 */
class Path {
    /**
     * Constructs a Path
     * @param itemPath Path or array of segments
     */
    constructor(itemPath) {
        this.segments = [];
        // String
        if (typeof itemPath === 'string') {
            assert(itemPath, `Parameter 'itemPath' must not be empty`);
            // Normalize slashes and trim unnecessary trailing slash
            itemPath = safeTrimTrailingSeparator(itemPath);
            // Not rooted
            if (!hasRoot(itemPath)) {
                this.segments = itemPath.split(path.sep);
            }
            // Rooted
            else {
                // Add all segments, while not at the root
                let remaining = itemPath;
                let dir = dirname(remaining);
                while (dir !== remaining) {
                    // Add the segment
                    const basename = path.basename(remaining);
                    this.segments.unshift(basename);
                    // Truncate the last segment
                    remaining = dir;
                    dir = dirname(remaining);
                }
                // Remainder is the root
                this.segments.unshift(remaining);
            }
        }
        // Array
        else {
            // Must not be empty
            assert(itemPath.length > 0, `Parameter 'itemPath' must not be an empty array`);
            // Each segment
            for (let i = 0; i < itemPath.length; i++) {
                let segment = itemPath[i];
                // Must not be empty
                assert(segment, `Parameter 'itemPath' must not contain any empty segments`);
                // Normalize slashes
                segment = normalizeSeparators(itemPath[i]);
                // Root segment
                if (i === 0 && hasRoot(segment)) {
                    segment = safeTrimTrailingSeparator(segment);
                    assert(segment === dirname(segment), `Parameter 'itemPath' root segment contains information for multiple segments`);
                    this.segments.push(segment);
                }
                // All other segments
                else {
                    // Must not contain slash
                    assert(!segment.includes(path.sep), `Parameter 'itemPath' contains unexpected path separators`);
                    this.segments.push(segment);
                }
            }
        }
    }
    /**
     * Converts the path to it's string representation
     */
    toString() {
        // First segment
        let result = this.segments[0];
        // All others
        let skipSlash = result.endsWith(path.sep) || (IS_WINDOWS$2 && /^[A-Z]:$/i.test(result));
        for (let i = 1; i < this.segments.length; i++) {
            if (skipSlash) {
                skipSlash = false;
            }
            else {
                result += path.sep;
            }
            result += this.segments[i];
        }
        return result;
    }
}

const IS_WINDOWS$1 = process.platform === 'win32';
class Pattern {
    constructor(patternOrNegate, isImplicitPattern = false, segments, homedir) {
        /**
         * Indicates whether matches should be excluded from the result set
         */
        this.negate = false;
        // Pattern overload
        let pattern;
        if (typeof patternOrNegate === 'string') {
            pattern = patternOrNegate.trim();
        }
        // Segments overload
        else {
            // Convert to pattern
            segments = segments || [];
            assert(segments.length, `Parameter 'segments' must not empty`);
            const root = Pattern.getLiteral(segments[0]);
            assert(root && hasAbsoluteRoot(root), `Parameter 'segments' first element must be a root path`);
            pattern = new Path(segments).toString().trim();
            if (patternOrNegate) {
                pattern = `!${pattern}`;
            }
        }
        // Negate
        while (pattern.startsWith('!')) {
            this.negate = !this.negate;
            pattern = pattern.substr(1).trim();
        }
        // Normalize slashes and ensures absolute root
        pattern = Pattern.fixupPattern(pattern, homedir);
        // Segments
        this.segments = new Path(pattern).segments;
        // Trailing slash indicates the pattern should only match directories, not regular files
        this.trailingSeparator = normalizeSeparators(pattern)
            .endsWith(path.sep);
        pattern = safeTrimTrailingSeparator(pattern);
        // Search path (literal path prior to the first glob segment)
        let foundGlob = false;
        const searchSegments = this.segments
            .map(x => Pattern.getLiteral(x))
            .filter(x => !foundGlob && !(foundGlob = x === ''));
        this.searchPath = new Path(searchSegments).toString();
        // Root RegExp (required when determining partial match)
        this.rootRegExp = new RegExp(Pattern.regExpEscape(searchSegments[0]), IS_WINDOWS$1 ? 'i' : '');
        this.isImplicitPattern = isImplicitPattern;
        // Create minimatch
        const minimatchOptions = {
            dot: true,
            nobrace: true,
            nocase: IS_WINDOWS$1,
            nocomment: true,
            noext: true,
            nonegate: true
        };
        pattern = IS_WINDOWS$1 ? pattern.replace(/\\/g, '/') : pattern;
        this.minimatch = new Minimatch(pattern, minimatchOptions);
    }
    /**
     * Matches the pattern against the specified path
     */
    match(itemPath) {
        // Last segment is globstar?
        if (this.segments[this.segments.length - 1] === '**') {
            // Normalize slashes
            itemPath = normalizeSeparators(itemPath);
            // Append a trailing slash. Otherwise Minimatch will not match the directory immediately
            // preceding the globstar. For example, given the pattern `/foo/**`, Minimatch returns
            // false for `/foo` but returns true for `/foo/`. Append a trailing slash to handle that quirk.
            if (!itemPath.endsWith(path.sep) && this.isImplicitPattern === false) {
                // Note, this is safe because the constructor ensures the pattern has an absolute root.
                // For example, formats like C: and C:foo on Windows are resolved to an absolute root.
                itemPath = `${itemPath}${path.sep}`;
            }
        }
        else {
            // Normalize slashes and trim unnecessary trailing slash
            itemPath = safeTrimTrailingSeparator(itemPath);
        }
        // Match
        if (this.minimatch.match(itemPath)) {
            return this.trailingSeparator ? MatchKind.Directory : MatchKind.All;
        }
        return MatchKind.None;
    }
    /**
     * Indicates whether the pattern may match descendants of the specified path
     */
    partialMatch(itemPath) {
        // Normalize slashes and trim unnecessary trailing slash
        itemPath = safeTrimTrailingSeparator(itemPath);
        // matchOne does not handle root path correctly
        if (dirname(itemPath) === itemPath) {
            return this.rootRegExp.test(itemPath);
        }
        return this.minimatch.matchOne(itemPath.split(IS_WINDOWS$1 ? /\\+/ : /\/+/), this.minimatch.set[0], true);
    }
    /**
     * Escapes glob patterns within a path
     */
    static globEscape(s) {
        return (IS_WINDOWS$1 ? s : s.replace(/\\/g, '\\\\')) // escape '\' on Linux/macOS
            .replace(/(\[)(?=[^/]+\])/g, '[[]') // escape '[' when ']' follows within the path segment
            .replace(/\?/g, '[?]') // escape '?'
            .replace(/\*/g, '[*]'); // escape '*'
    }
    /**
     * Normalizes slashes and ensures absolute root
     */
    static fixupPattern(pattern, homedir) {
        // Empty
        assert(pattern, 'pattern cannot be empty');
        // Must not contain `.` segment, unless first segment
        // Must not contain `..` segment
        const literalSegments = new Path(pattern).segments.map(x => Pattern.getLiteral(x));
        assert(literalSegments.every((x, i) => (x !== '.' || i === 0) && x !== '..'), `Invalid pattern '${pattern}'. Relative pathing '.' and '..' is not allowed.`);
        // Must not contain globs in root, e.g. Windows UNC path \\foo\b*r
        assert(!hasRoot(pattern) || literalSegments[0], `Invalid pattern '${pattern}'. Root segment must not contain globs.`);
        // Normalize slashes
        pattern = normalizeSeparators(pattern);
        // Replace leading `.` segment
        if (pattern === '.' || pattern.startsWith(`.${path.sep}`)) {
            pattern = Pattern.globEscape(process.cwd()) + pattern.substr(1);
        }
        // Replace leading `~` segment
        else if (pattern === '~' || pattern.startsWith(`~${path.sep}`)) {
            homedir = homedir || os.homedir();
            assert(homedir, 'Unable to determine HOME directory');
            assert(hasAbsoluteRoot(homedir), `Expected HOME directory to be a rooted path. Actual '${homedir}'`);
            pattern = Pattern.globEscape(homedir) + pattern.substr(1);
        }
        // Replace relative drive root, e.g. pattern is C: or C:foo
        else if (IS_WINDOWS$1 &&
            (pattern.match(/^[A-Z]:$/i) || pattern.match(/^[A-Z]:[^\\]/i))) {
            let root = ensureAbsoluteRoot('C:\\dummy-root', pattern.substr(0, 2));
            if (pattern.length > 2 && !root.endsWith('\\')) {
                root += '\\';
            }
            pattern = Pattern.globEscape(root) + pattern.substr(2);
        }
        // Replace relative root, e.g. pattern is \ or \foo
        else if (IS_WINDOWS$1 && (pattern === '\\' || pattern.match(/^\\[^\\]/))) {
            let root = ensureAbsoluteRoot('C:\\dummy-root', '\\');
            if (!root.endsWith('\\')) {
                root += '\\';
            }
            pattern = Pattern.globEscape(root) + pattern.substr(1);
        }
        // Otherwise ensure absolute root
        else {
            pattern = ensureAbsoluteRoot(Pattern.globEscape(process.cwd()), pattern);
        }
        return normalizeSeparators(pattern);
    }
    /**
     * Attempts to unescape a pattern segment to create a literal path segment.
     * Otherwise returns empty string.
     */
    static getLiteral(segment) {
        let literal = '';
        for (let i = 0; i < segment.length; i++) {
            const c = segment[i];
            // Escape
            if (c === '\\' && !IS_WINDOWS$1 && i + 1 < segment.length) {
                literal += segment[++i];
                continue;
            }
            // Wildcard
            else if (c === '*' || c === '?') {
                return '';
            }
            // Character set
            else if (c === '[' && i + 1 < segment.length) {
                let set = '';
                let closed = -1;
                for (let i2 = i + 1; i2 < segment.length; i2++) {
                    const c2 = segment[i2];
                    // Escape
                    if (c2 === '\\' && !IS_WINDOWS$1 && i2 + 1 < segment.length) {
                        set += segment[++i2];
                        continue;
                    }
                    // Closed
                    else if (c2 === ']') {
                        closed = i2;
                        break;
                    }
                    // Otherwise
                    else {
                        set += c2;
                    }
                }
                // Closed?
                if (closed >= 0) {
                    // Cannot convert
                    if (set.length > 1) {
                        return '';
                    }
                    // Convert to literal
                    if (set) {
                        literal += set;
                        i = closed;
                        continue;
                    }
                }
                // Otherwise fall thru
            }
            // Append
            literal += c;
        }
        return literal;
    }
    /**
     * Escapes regexp special characters
     * https://javascript.info/regexp-escaping
     */
    static regExpEscape(s) {
        return s.replace(/[[\\^$.|?*+()]/g, '\\$&');
    }
}

class SearchState {
    constructor(path, level) {
        this.path = path;
        this.level = level;
    }
}

var __awaiter$1 = (undefined && undefined.__awaiter) || function (thisArg, _arguments, P, generator) {
    function adopt(value) { return value instanceof P ? value : new P(function (resolve) { resolve(value); }); }
    return new (P || (P = Promise))(function (resolve, reject) {
        function fulfilled(value) { try { step(generator.next(value)); } catch (e) { reject(e); } }
        function rejected(value) { try { step(generator["throw"](value)); } catch (e) { reject(e); } }
        function step(result) { result.done ? resolve(result.value) : adopt(result.value).then(fulfilled, rejected); }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
    });
};
var __asyncValues = (undefined && undefined.__asyncValues) || function (o) {
    if (!Symbol.asyncIterator) throw new TypeError("Symbol.asyncIterator is not defined.");
    var m = o[Symbol.asyncIterator], i;
    return m ? m.call(o) : (o = typeof __values === "function" ? __values(o) : o[Symbol.iterator](), i = {}, verb("next"), verb("throw"), verb("return"), i[Symbol.asyncIterator] = function () { return this; }, i);
    function verb(n) { i[n] = o[n] && function (v) { return new Promise(function (resolve, reject) { v = o[n](v), settle(resolve, reject, v.done, v.value); }); }; }
    function settle(resolve, reject, d, v) { Promise.resolve(v).then(function(v) { resolve({ value: v, done: d }); }, reject); }
};
var __await = (undefined && undefined.__await) || function (v) { return this instanceof __await ? (this.v = v, this) : new __await(v); };
var __asyncGenerator = (undefined && undefined.__asyncGenerator) || function (thisArg, _arguments, generator) {
    if (!Symbol.asyncIterator) throw new TypeError("Symbol.asyncIterator is not defined.");
    var g = generator.apply(thisArg, _arguments || []), i, q = [];
    return i = Object.create((typeof AsyncIterator === "function" ? AsyncIterator : Object).prototype), verb("next"), verb("throw"), verb("return", awaitReturn), i[Symbol.asyncIterator] = function () { return this; }, i;
    function awaitReturn(f) { return function (v) { return Promise.resolve(v).then(f, reject); }; }
    function verb(n, f) { if (g[n]) { i[n] = function (v) { return new Promise(function (a, b) { q.push([n, v, a, b]) > 1 || resume(n, v); }); }; if (f) i[n] = f(i[n]); } }
    function resume(n, v) { try { step(g[n](v)); } catch (e) { settle(q[0][3], e); } }
    function step(r) { r.value instanceof __await ? Promise.resolve(r.value.v).then(fulfill, reject) : settle(q[0][2], r); }
    function fulfill(value) { resume("next", value); }
    function reject(value) { resume("throw", value); }
    function settle(f, v) { if (f(v), q.shift(), q.length) resume(q[0][0], q[0][1]); }
};
const IS_WINDOWS = process.platform === 'win32';
class DefaultGlobber {
    constructor(options) {
        this.patterns = [];
        this.searchPaths = [];
        this.options = getOptions(options);
    }
    getSearchPaths() {
        // Return a copy
        return this.searchPaths.slice();
    }
    glob() {
        return __awaiter$1(this, void 0, void 0, function* () {
            var _a, e_1, _b, _c;
            const result = [];
            try {
                for (var _d = true, _e = __asyncValues(this.globGenerator()), _f; _f = yield _e.next(), _a = _f.done, !_a; _d = true) {
                    _c = _f.value;
                    _d = false;
                    const itemPath = _c;
                    result.push(itemPath);
                }
            }
            catch (e_1_1) { e_1 = { error: e_1_1 }; }
            finally {
                try {
                    if (!_d && !_a && (_b = _e.return)) yield _b.call(_e);
                }
                finally { if (e_1) throw e_1.error; }
            }
            return result;
        });
    }
    globGenerator() {
        return __asyncGenerator(this, arguments, function* globGenerator_1() {
            // Fill in defaults options
            const options = getOptions(this.options);
            // Implicit descendants?
            const patterns = [];
            for (const pattern of this.patterns) {
                patterns.push(pattern);
                if (options.implicitDescendants &&
                    (pattern.trailingSeparator ||
                        pattern.segments[pattern.segments.length - 1] !== '**')) {
                    patterns.push(new Pattern(pattern.negate, true, pattern.segments.concat('**')));
                }
            }
            // Push the search paths
            const stack = [];
            for (const searchPath of getSearchPaths(patterns)) {
                debug(`Search path '${searchPath}'`);
                // Exists?
                try {
                    // Intentionally using lstat. Detection for broken symlink
                    // will be performed later (if following symlinks).
                    fs.lstatSync(searchPath);
                }
                catch (err) {
                    if (err.code === 'ENOENT') {
                        continue;
                    }
                    throw err;
                }
                stack.unshift(new SearchState(searchPath, 1));
            }
            // Search
            const traversalChain = []; // used to detect cycles
            while (stack.length) {
                // Pop
                const item = stack.pop();
                // Match?
                const match = match$1(patterns, item.path);
                const partialMatch$1 = !!match || partialMatch(patterns, item.path);
                if (!match && !partialMatch$1) {
                    continue;
                }
                // Stat
                const stats = yield __await(DefaultGlobber.stat(item, options, traversalChain)
                // Broken symlink, or symlink cycle detected, or no longer exists
                );
                // Broken symlink, or symlink cycle detected, or no longer exists
                if (!stats) {
                    continue;
                }
                // Hidden file or directory?
                if (options.excludeHiddenFiles && path.basename(item.path).match(/^\./)) {
                    continue;
                }
                // Directory
                if (stats.isDirectory()) {
                    // Matched
                    if (match & MatchKind.Directory && options.matchDirectories) {
                        yield yield __await(item.path);
                    }
                    // Descend?
                    else if (!partialMatch$1) {
                        continue;
                    }
                    // Push the child items in reverse
                    const childLevel = item.level + 1;
                    const childItems = fs.readdirSync(item.path).map(x => new SearchState(path.join(item.path, x), childLevel));
                    stack.push(...childItems.reverse());
                }
                // File
                else if (match & MatchKind.File) {
                    yield yield __await(item.path);
                }
            }
        });
    }
    /**
     * Constructs a DefaultGlobber
     */
    static create(patterns, options) {
        return __awaiter$1(this, void 0, void 0, function* () {
            const result = new DefaultGlobber(options);
            if (IS_WINDOWS) {
                patterns = patterns.replace(/\r\n/g, '\n');
                patterns = patterns.replace(/\r/g, '\n');
            }
            const lines = patterns.split('\n').map(x => x.trim());
            for (const line of lines) {
                // Empty or comment
                if (!line || line.startsWith('#')) {
                    continue;
                }
                // Pattern
                else {
                    result.patterns.push(new Pattern(line));
                }
            }
            result.searchPaths.push(...getSearchPaths(result.patterns));
            return result;
        });
    }
    static stat(item, options, traversalChain) {
        return __awaiter$1(this, void 0, void 0, function* () {
            // Note:
            // `stat` returns info about the target of a symlink (or symlink chain)
            // `lstat` returns info about a symlink itself
            let stats;
            if (options.followSymbolicLinks) {
                try {
                    // Use `stat` (following symlinks)
                    stats = fs.statSync(item.path);
                }
                catch (err) {
                    if (err.code === 'ENOENT') {
                        if (options.omitBrokenSymbolicLinks) {
                            debug(`Broken symlink '${item.path}'`);
                            return undefined;
                        }
                        throw new Error(`No information found for the path '${item.path}'. This may indicate a broken symbolic link.`);
                    }
                    throw err;
                }
            }
            else {
                // Use `lstat` (not following symlinks)
                stats = fs.lstatSync(item.path);
            }
            // Note, isDirectory() returns false for the lstat of a symlink
            if (stats.isDirectory() && options.followSymbolicLinks) {
                // Get the realpath
                const realPath = fs.realpathSync.native(item.path);
                // Fixup the traversal chain to match the item level
                while (traversalChain.length >= item.level) {
                    traversalChain.pop();
                }
                // Test for a cycle
                if (traversalChain.some((x) => x === realPath)) {
                    debug(`Symlink cycle detected for path '${item.path}' and realpath '${realPath}'`);
                    return undefined;
                }
                // Update the traversal chain
                traversalChain.push(realPath);
            }
            return stats;
        });
    }
}

(undefined && undefined.__awaiter) || function (thisArg, _arguments, P, generator) {
    function adopt(value) { return value instanceof P ? value : new P(function (resolve) { resolve(value); }); }
    return new (P || (P = Promise))(function (resolve, reject) {
        function fulfilled(value) { try { step(generator.next(value)); } catch (e) { reject(e); } }
        function rejected(value) { try { step(generator["throw"](value)); } catch (e) { reject(e); } }
        function step(result) { result.done ? resolve(result.value) : adopt(result.value).then(fulfilled, rejected); }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
    });
};
(undefined && undefined.__asyncValues) || function (o) {
    if (!Symbol.asyncIterator) throw new TypeError("Symbol.asyncIterator is not defined.");
    var m = o[Symbol.asyncIterator], i;
    return m ? m.call(o) : (o = typeof __values === "function" ? __values(o) : o[Symbol.iterator](), i = {}, verb("next"), verb("throw"), verb("return"), i[Symbol.asyncIterator] = function () { return this; }, i);
    function verb(n) { i[n] = o[n] && function (v) { return new Promise(function (resolve, reject) { v = o[n](v), settle(resolve, reject, v.done, v.value); }); }; }
    function settle(resolve, reject, d, v) { Promise.resolve(v).then(function(v) { resolve({ value: v, done: d }); }, reject); }
};

var __awaiter = (undefined && undefined.__awaiter) || function (thisArg, _arguments, P, generator) {
    function adopt(value) { return value instanceof P ? value : new P(function (resolve) { resolve(value); }); }
    return new (P || (P = Promise))(function (resolve, reject) {
        function fulfilled(value) { try { step(generator.next(value)); } catch (e) { reject(e); } }
        function rejected(value) { try { step(generator["throw"](value)); } catch (e) { reject(e); } }
        function step(result) { result.done ? resolve(result.value) : adopt(result.value).then(fulfilled, rejected); }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
    });
};
/**
 * Constructs a globber
 *
 * @param patterns  Patterns separated by newlines
 * @param options   Glob options
 */
function create(patterns, options) {
    return __awaiter(this, void 0, void 0, function* () {
        return yield DefaultGlobber.create(patterns, options);
    });
}

// Local names that cannot be deployed as they are. On Linux a file name is bytes; SFTP paths and
// our remote commands are UTF-8, and Node reads a name that is not UTF-8 with U+FFFD in place of
// each bad byte, so the name it hands on is one that does not exist. Such a name is refused with
// an error that shows it, its bad bytes escaped as `\xNN`.
const REPLACEMENT = '\uFFFD';
/** Whether `bytes` are valid UTF-8 (decoding and encoding again gives them back). */
function isUtf8(bytes) {
    return Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes);
}
/** A name for messages: valid UTF-8 as text, every other byte as `\xNN`. */
function escapeName(bytes) {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    let out = '';
    for (let at = 0; at < bytes.length;) {
        let taken = 0;
        // The longest valid sequence (1 to 4 bytes) starting here.
        for (let length = Math.min(4, bytes.length - at); length >= 1 && taken === 0; length -= 1) {
            try {
                const text = decoder.decode(bytes.subarray(at, at + length));
                const point = text.codePointAt(0);
                if (point !== undefined && String.fromCodePoint(point) === text) {
                    out += text;
                    taken = length;
                }
            }
            catch {
                // not a whole character
            }
        }
        if (taken === 0) {
            out += `\\x${bytes[at].toString(16).padStart(2, '0')}`;
            taken = 1;
        }
        at += taken;
    }
    return out;
}
/** The error for a local entry whose name (raw bytes, in `directory`) is not UTF-8. */
function unrepresentableName(directory, name) {
    return new InputError('source', `'${directory}/${escapeName(name)}' has a name that is not valid UTF-8: remote paths are UTF-8, so it cannot be deployed under that name; rename it, or remove it from working-directory`);
}
/**
 * For a failure of the walk or the glob that names a path with U+FFFD in it: the entry whose
 * name is not UTF-8, looked up in its directory as bytes. Undefined where that is not the cause.
 */
function explainUnrepresentableName(message) {
    const quoted = /'([^']*\uFFFD[^']*)'/.exec(message)?.[1];
    if (quoted === undefined)
        return undefined;
    // The first segment with a replacement character is the one that does not exist as read.
    const segments = quoted.split('/');
    const index = segments.findIndex((segment) => segment.includes(REPLACEMENT));
    const directory = segments.slice(0, index).join('/') || '/';
    const mangled = segments[index] ?? '';
    let names;
    try {
        names = readdirSync(directory, { encoding: 'buffer' });
    }
    catch {
        return undefined;
    }
    const bad = names.find((name) => !isUtf8(name) && name.toString('utf8') === mangled);
    return bad === undefined ? undefined : unrepresentableName(directory, bad);
}

// The walk behind `source` for the patterns most workflows use: `**`, and paths without glob
// characters (`dist`, `dist/**`, `site/index.html`), none negated. Each takes everything below
// its literal part, so no entry needs a pattern matched against it. The walk makes the calls
// @actions/glob's makes, in the same order, with the same errors (a broken link, a link cycle,
// a vanished entry), synchronously, and keeps each file's stat for the plan instead of leaving
// the plan to stat every file again. Other patterns go through @actions/glob itself.
const GLOB_CHARACTERS = /[*?[\]\\]/;
/**
 * The roots the patterns name, when every one is `**` or a relative literal path (optionally
 * ending in `/**`) and none is negated; undefined when any needs @actions/glob's matching.
 * Comments and blank lines are skipped, as anchorPattern skips them. `separator` is the runner's.
 */
function literalRoots(patterns, separator = sep) {
    // Windows paths (either separator, case rules) are left to @actions/glob's own handling.
    if (separator === '\\')
        return undefined;
    const roots = [];
    for (const pattern of patterns) {
        const line = pattern.trim();
        if (line === '' || line.startsWith('#'))
            continue;
        if (line.startsWith('!') || isAbsolute(line))
            return undefined;
        if (line === '**') {
            roots.push({ path: '', globstar: true });
            continue;
        }
        const globstar = line.endsWith('/**');
        const path = globstar ? line.slice(0, -3) : line;
        const literal = path
            .split('/')
            .every((segment) => segment !== '' && segment !== '.' && segment !== '..' && !GLOB_CHARACTERS.test(segment));
        if (!literal)
            return undefined;
        roots.push({ path, globstar });
    }
    return roots.length === 0 ? undefined : roots;
}
/** Roots with none below another (as @actions/glob's search paths), shortest first. */
function outermost(roots) {
    const paths = [...new Set(roots.map((root) => root.path))].sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0));
    const kept = [];
    for (const path of paths)
        if (!kept.some((outer) => outer === '' || path.startsWith(`${outer}/`)))
            kept.push(path);
    return kept;
}
function errorCode(error) {
    return error?.code;
}
/**
 * Every file below the roots, or undefined where @actions/glob would treat a root differently
 * (a `path/**` root that is not a directory). Throws what @actions/glob throws.
 */
function walkLiteral(workingDirectory, roots, followSymbolicLinks) {
    const files = [];
    for (const rootPath of outermost(roots)) {
        const path = rootPath === '' ? workingDirectory : join(workingDirectory, rootPath);
        try {
            // As @actions/glob: lstat, so that a broken link is reported by the stat below.
            lstatSync(path);
        }
        catch (error) {
            if (errorCode(error) === 'ENOENT')
                continue;
            throw error;
        }
        const stack = [{ path, relativePath: rootPath, level: 1 }];
        // Real paths of the directories being walked, one per level: a link back into one is a cycle.
        const chain = [];
        let root = true;
        while (stack.length > 0) {
            const entry = stack.pop();
            const stats = statEntry(entry, followSymbolicLinks, chain);
            if (stats === undefined)
                continue;
            if (root) {
                root = false;
                const globstar = roots.some((candidate) => candidate.path === rootPath && candidate.globstar);
                if (globstar && rootPath !== '' && !stats.isDirectory())
                    return undefined;
            }
            if (stats.isDirectory()) {
                const names = readdirSync(entry.path);
                for (let index = names.length - 1; index >= 0; index--) {
                    const name = names[index];
                    stack.push({
                        path: join(entry.path, name),
                        relativePath: entry.relativePath === '' ? name : `${entry.relativePath}/${name}`,
                        level: entry.level + 1
                    });
                }
                continue;
            }
            const file = fileStats(stats);
            if (file !== undefined)
                files.push({ localPath: entry.path, relativePath: entry.relativePath, stats: file });
        }
    }
    return files;
}
/** @actions/glob's DefaultGlobber.stat, synchronous: undefined for a link cycle. */
function statEntry(entry, follow, chain) {
    if (!follow)
        return lstatSync(entry.path);
    let stats;
    try {
        stats = statSync(entry.path);
    }
    catch (error) {
        if (errorCode(error) === 'ENOENT')
            throw new Error(`No information found for the path '${entry.path}'. This may indicate a broken symbolic link.`, { cause: error });
        throw error;
    }
    if (stats.isDirectory()) {
        const real = realpathSync.native(entry.path);
        while (chain.length >= entry.level)
            chain.pop();
        if (chain.includes(real))
            return undefined;
        chain.push(real);
    }
    return stats;
}
/**
 * What the plan takes of a non-directory match: a regular file, or where links are not followed
 * a symbolic link (whatever it points to: it is deployed as a link); undefined for anything else.
 */
function fileStats(stats) {
    return stats.isFile() || stats.isSymbolicLink() ? stats : undefined;
}

// The plan: which local files go where. `source` globs are expanded once per run under
// `working-directory`; each match keeps its path relative to that directory, minus
// `strip-components` leading segments, below `target`.
function identityOf(stats) {
    return { size: stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, ino: stats.ino };
}
// @actions/glob reads patterns relative to the process's directory; patterns here are relative
// to `working-directory`, so its path is prefixed, with its own glob characters made literal.
function escapeGlob(path) {
    return path.replace(/[*?[\]]/g, (ch) => `[${ch}]`);
}
function anchorPattern(pattern, base, path = nodePath__default) {
    const line = pattern.trim();
    if (line === '' || line.startsWith('#'))
        return undefined;
    const negated = line.startsWith('!');
    const body = negated ? line.slice(1).trim() : line;
    const anchored = path.isAbsolute(body) ? body : `${escapeGlob(base)}/${body}`;
    return negated ? `!${anchored}` : anchored;
}
/**
 * A local match's place relative to `target`, its path split by the runner's own separators
 * only. Throws the error a user should see.
 */
function mapFile(localPath, options, path = nodePath__default) {
    const rel = path.relative(options.workingDirectory, localPath);
    // `...` and `..x` are ordinary names; only `..` itself climbs. On Windows a match on another
    // drive or share is given back absolute.
    if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel))
        throw new InputError('source', `'${localPath}' is outside working-directory '${options.workingDirectory}'; every file must be below it`);
    return place(toPosixSegments(rel, path.sep), options);
}
/** A file's place relative to `target` from its POSIX segments below the working directory. */
function place(segments, options) {
    if (segments.length <= options.stripComponents)
        throw new InputError('strip-components', `${options.stripComponents} would remove the whole path of '${segments.join('/')}' (it has ${segments.length} component${segments.length === 1 ? '' : 's'})`);
    return segments.slice(options.stripComponents).join('/');
}
/**
 * Where a match lands relative to `target`, checked here (whatever found it) to be a path below
 * target. Throws the error a user should see.
 */
function placeOf(found, options, path = nodePath__default) {
    const relativePath = found.walkedPath === undefined
        ? mapFile(path.resolve(found.localPath), options, path)
        : place(found.walkedPath.split('/'), options);
    checkUnderTarget(relativePath, found.localPath);
    return relativePath;
}
/** The matches: by the literal walk where the patterns allow it, else by @actions/glob. */
async function match(options, anchored) {
    const roots = literalRoots(options.patterns);
    const walked = roots === undefined
        ? undefined
        : walkLiteral(options.workingDirectory, roots, options.followSymbolicLinks);
    if (walked !== undefined)
        return walked.map((file) => ({
            localPath: file.localPath,
            walkedPath: file.relativePath,
            stats: file.stats
        }));
    try {
        const globber = await create(anchored.join('\n'), {
            followSymbolicLinks: options.followSymbolicLinks,
            implicitDescendants: true,
            matchDirectories: false,
            omitBrokenSymbolicLinks: false
        });
        return (await globber.glob()).map((localPath) => ({ localPath }));
    }
    catch (error) {
        // @actions/glob refuses patterns it cannot read ('..' segments, say): the input is wrong.
        if (error instanceof Error && /^Invalid pattern/.test(error.message))
            throw new InputError('source', error.message, { cause: error });
        throw error;
    }
}
async function buildPlan(options) {
    const anchored = options.patterns
        .map((pattern) => anchorPattern(pattern, options.workingDirectory))
        .filter((pattern) => pattern !== undefined);
    if (anchored.length === 0 || anchored.every((pattern) => pattern.startsWith('!')))
        throw new InputError('source', 'names no pattern to include');
    let matches;
    try {
        matches = await match(options, anchored);
    }
    catch (error) {
        // A name that is not UTF-8 reaches the glob mangled, and then cannot be found.
        throw explainUnrepresentableName(errorMessage(error)) ?? error;
    }
    const byPlace = new Map();
    const files = [];
    for (const found of matches.sort((a, b) => a.localPath < b.localPath ? -1 : a.localPath > b.localPath ? 1 : 0)) {
        const localPath = found.localPath;
        const relativePath = placeOf(found, options);
        const clash = byPlace.get(relativePath);
        if (clash !== undefined)
            throw new InputError('strip-components', `'${clash}' and '${localPath}' would both land at '${relativePath}' under target`);
        byPlace.set(relativePath, localPath);
        const info = found.stats ?? statFile(localPath, options.followSymbolicLinks);
        if (info.isSymbolicLink()) {
            files.push({
                localPath,
                relativePath,
                size: 0,
                mode: 0o777,
                identity: identityOf(info),
                linkTarget: readLink(localPath)
            });
            continue;
        }
        if (!info.isFile())
            continue;
        files.push({
            localPath,
            relativePath,
            size: info.size,
            mode: info.mode & 0o777,
            identity: identityOf(info)
        });
    }
    return { files, totalBytes: files.reduce((sum, file) => sum + file.size, 0) };
}
/** A match's stat: its target's where links are followed, else the link's own. */
function statFile(localPath, followSymbolicLinks) {
    try {
        return followSymbolicLinks ? statSync(localPath) : lstatSync(localPath);
    }
    catch (error) {
        throw localFileError(localPath, error);
    }
}
/** A link's target text, which must be UTF-8 to be sent. */
function readLink(localPath) {
    let bytes;
    try {
        bytes = readlinkSync(localPath, { encoding: 'buffer' });
    }
    catch (error) {
        throw localFileError(localPath, error);
    }
    if (!isUtf8(bytes))
        throw new InputError('source', `the symbolic link '${localPath}' points to '${escapeName(bytes)}', which is not valid UTF-8: remote paths are UTF-8, so the link cannot be deployed as it is`);
    return bytes.toString('utf8');
}

// The run's results as the contract publishes them: step outputs, the job summary table and
// one error annotation per failed host. Pure formatting.
function buildOutputs(results, fileCount, 
/** With `releases`: the new release's name (a rollback's: none). */
release) {
    const hostsWith = (status) => results.filter((result) => result.status === status).map((result) => result.host);
    const succeeded = hostsWith('success');
    const failed = hostsWith('failed');
    const ordered = results.map((result) => ({
        host: result.host,
        status: result.status,
        files: result.files,
        uploaded: result.uploaded,
        skipped: result.skipped,
        deleted: result.deleted,
        bytes: result.bytes,
        resumedBytes: result.resumedBytes,
        attempts: result.attempts,
        durationMs: result.durationMs,
        ...(result.error === undefined ? {} : { error: oneLine(result.error) }),
        ...(result.errorClass === undefined ? {} : { errorClass: result.errorClass }),
        ...(result.jump === undefined ? {} : { jump: result.jump }),
        ...(result.planned === undefined ? {} : { planned: result.planned }),
        ...(result.batch === undefined ? {} : { batch: result.batch }),
        ...(result.startedAt === undefined ? {} : { startedAt: result.startedAt }),
        ...(result.finishedAt === undefined ? {} : { finishedAt: result.finishedAt }),
        rolledBack: result.rolledBack ?? false,
        ...(result.switched === undefined
            ? {}
            : {
                release: result.release ?? null,
                previousRelease: result.previousRelease ?? null,
                switched: result.switched
            })
    }));
    return {
        results: JSON.stringify(ordered),
        'succeeded-hosts': JSON.stringify(succeeded),
        'failed-hosts': JSON.stringify(failed),
        'held-hosts': JSON.stringify(hostsWith('held')),
        'succeeded-count': String(succeeded.length),
        'failed-count': String(failed.length),
        files: String(fileCount),
        bytes: String(results.reduce((sum, result) => sum + result.bytes, 0)),
        ...(release === undefined ? {} : { release })
    };
}
function cell(text) {
    return oneLine(text).replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
const STATUS_LABEL = {
    success: '✅ success',
    failed: '❌ failed',
    skipped: '⏭️ skipped',
    planned: '📋 planned',
    held: '⏸️ held'
};
/** The table's optional columns, each a header and a cell per result. */
function optionalColumns(results, context) {
    const targets = new Set(context.targets.values());
    const columns = [];
    if ((context.batches ?? 1) > 1)
        columns.push({ header: 'Batch', cell: (result) => String(result.batch ?? '') });
    if (targets.size > 1)
        columns.push({
            header: 'Target',
            cell: (result) => cell(context.targets.get(result.host) ?? '')
        });
    if (results.some((result) => result.jump !== undefined))
        columns.push({ header: 'Via', cell: (result) => cell(result.jump?.join(' → ') ?? '') });
    if (results.some((result) => result.switched !== undefined))
        columns.push({
            header: 'Release',
            cell: (result) => result.switched === undefined
                ? ''
                : cell(`${result.previousRelease ?? '(none)'} → ${result.release ?? '?'}${result.switched ? '' : ' (not switched)'}`)
        });
    if (results.some((result) => result.planned !== undefined))
        columns.push({
            header: 'Plan',
            cell: (result) => result.planned === undefined
                ? ''
                : cell(planText(result.planned, context.deleting === true))
        });
    return columns;
}
/** A host's plan in a few words: what is sent, kept, deleted; the release made and pruned. */
function planText(planned, deleting) {
    const counts = `${planned.upload} to send, ${planned.unchanged} unchanged${deleting ? `, ${planned.delete} to delete` : ''}`;
    if (planned.release === undefined)
        return counts;
    const pruned = planned.prune === undefined || planned.prune.length === 0
        ? ''
        : `, then ${planned.prune.join(', ')} removed`;
    return `${counts}; current → ${planned.release}${pruned}`;
}
function summaryMarkdown(results, context) {
    const failed = results.filter((result) => result.status === 'failed').length;
    const planned = results.some((result) => result.status === 'planned');
    const headline = failed > 0
        ? `${failed} of ${results.length} host(s) failed`
        : planned
            ? `Dry run: planned ${context.files} file(s), ${formatBytes(context.totalBytes)}, for ${results.length} host(s); nothing was written`
            : `Deployed ${context.files} file(s), ${formatBytes(context.totalBytes)}, to ${results.length} host(s)`;
    const [oneTarget] = new Set(context.targets.values());
    const targetLine = new Set(context.targets.values()).size > 1 || oneTarget === undefined
        ? 'Each host its own target'
        : `Target \`${cell(oneTarget)}\``;
    const extra = optionalColumns(results, context);
    const deleted = context.deleting === true;
    const lines = [
        `### SSH Fan-out Deploy: ${cell(headline)}`,
        '',
        `${targetLine}, verify \`${context.verify}\`.`,
        '',
        ...(context.stopped === undefined
            ? []
            : [
                `**The rollout stopped ${cell(context.stopped)}**: the hosts not started are skipped.`,
                ''
            ]),
        `| Host |${extra.map((column) => ` ${column.header} |`).join('')} Status | Files | Uploaded | Skipped |${deleted ? ' Deleted |' : ''} Bytes | Attempts | Time | Error |`,
        `| --- |${extra.map(() => ' --- |').join('')} --- | ---: | ---: | ---: |${deleted ? ' ---: |' : ''} ---: | ---: | ---: | --- |`
    ];
    for (const result of results)
        lines.push(`| ${cell(result.host)} |${extra.map((column) => ` ${column.cell(result)} |`).join('')} ${STATUS_LABEL[result.status]} | ${result.files} | ${result.uploaded} | ${result.skipped} |${deleted ? ` ${result.deleted} |` : ''} ${formatBytes(result.bytes)} | ${result.attempts} | ${formatDuration(result.durationMs)} | ${cell(`${result.rolledBack === true ? 'rolled back: ' : ''}${result.error ?? ''}`)} |`);
    return `${lines.join('\n')}\n`;
}

// run(): inputs → plan → fan-out → report. The one place where a failure becomes the step's
// result.
const DEFAULT_PROGRESS_INTERVAL_MS = 5000;
function progressInterval(io, env) {
    if (io.progressIntervalMs !== undefined)
        return io.progressIntervalMs;
    const value = Number(env.SFD_PROGRESS_INTERVAL_MS);
    return Number.isFinite(value) && value > 0 ? value : DEFAULT_PROGRESS_INTERVAL_MS;
}
async function checkWorkingDirectory(settings) {
    const info = await stat$1(settings.workingDirectory).catch(() => undefined);
    if (info?.isDirectory() !== true)
        throw new InputError('working-directory', `'${settings.workingDirectory}' is not a directory on the runner`);
}
function writeOutputs(io, results, files, settings) {
    const release = settings?.releases === undefined || settings.releases.rollback
        ? undefined
        : settings.releases.name;
    for (const [name, value] of Object.entries(buildOutputs(results, files, release)))
        io.setOutput(name, value);
}
/** Cancellation by the runner: SIGINT, then SIGTERM, aborts the root signal. */
function rootSignal(extra) {
    const controller = new AbortController();
    const handlers = ['SIGINT', 'SIGTERM'].map((name) => {
        const handler = () => controller.abort(new DeployError('aborted', `the run was cancelled (${name})`));
        process.once(name, handler);
        return [name, handler];
    });
    const signal = extra === undefined ? controller.signal : AbortSignal.any([controller.signal, extra]);
    return {
        signal,
        dispose: () => {
            for (const [name, handler] of handlers)
                process.removeListener(name, handler);
        }
    };
}
/** The hosts' target, quoted, where they share one; else that each has its own. */
function describeTargets(settings) {
    const targets = new Set(settings.hosts.map((host) => host.target));
    const [only] = targets;
    return targets.size === 1 && only !== undefined ? `'${only}'` : "each host's own target";
}
/** Nothing matched: an error, or a run that contacts no host, as `if-no-files-found` says. */
function noFiles(io, settings) {
    const message = `no files match 'source' under working-directory '${settings.workingDirectory}'`;
    if (settings.ifNoFilesFound === 'error')
        throw new InputError('source', message);
    if (settings.ifNoFilesFound === 'warn')
        io.warning(`${message}; nothing to deploy`);
    else
        io.info(`${message}; nothing to deploy`);
    const results = settings.hosts.map((host) => notAttempted(host.label, 0, 'no files to deploy'));
    writeOutputs(io, results, 0);
}
/**
 * Each thread's hosts, where more than one thread is worth it and can be started (hosts behind
 * one jump host share a thread, so there may be fewer than threadCount says); else one lane.
 */
function lanesFor(settings, options) {
    const count = threadCount(settings.threads, settings.hosts.length, settings.maxParallel);
    const url = options.workerUrl;
    if (count === 1 || url === undefined || !existsSync(fileURLToPath(url)))
        return [settings.hosts.map((_, index) => index)];
    return assignHosts(settings.hosts, count);
}
/**
 * One batch's fan-out (every host, where there is one batch): on this thread, or spread over
 * threads, a lane each. Its results in the order of `indexes`.
 */
async function fanOutBatch(indexes, fanOut$1, options, thread, runToken) {
    const { settings } = fanOut$1;
    const batch = { ...settings, hosts: indexes.map((index) => settings.hosts[index]) };
    const lanes = lanesFor(batch, options).map((lane) => lane.map((local) => indexes[local]));
    if (lanes.length === 1 || options.workerUrl === undefined)
        return fanOut({ ...fanOut$1, settings: batch, hostNumbers: indexes, runToken });
    const all = await fanOutInThreads(fanOut$1, {
        workerUrl: options.workerUrl,
        run: thread,
        lanes,
        shares: parallelShares(lanes, settings.maxParallel),
        memoryBytes: Math.floor(MAX_BYTES_IN_MEMORY / lanes.length),
        runToken
    });
    return indexes.map((index) => all[index]);
}
async function deploy(io, settings, plan, options, thread) {
    const env = options.env ?? process.env;
    const hosts = settings.hosts;
    const lanes = lanesFor(settings, options);
    const { releases } = settings;
    io.info(releases?.rollback === true
        ? `Rolling back ${hosts.length} host(s) at ${describeTargets(settings)} to the release before current (switch ${releases.switchMode}, auth ${settings.authDescription})`
        : `${settings.dryRun ? 'Dry run: planning' : 'Deploying'} ${plan.files.length} file(s), ${formatBytes(plan.totalBytes)}, to ${hosts.length} host(s) at ${describeTargets(settings)} (${releases === undefined ? '' : `release ${releases.name}, switch ${releases.switchMode}, `}verify ${settings.verify}, ${settings.atomic ? 'atomic' : 'in place'}, auth ${settings.authDescription}, ${settings.maxParallel} host(s) at once, ${lanes.length} thread(s))`);
    io.start?.(hosts.map((host) => host.label));
    const root = rootSignal(options.signal);
    let results;
    let rollout;
    try {
        const fanOutOptions = {
            settings,
            plan,
            localHasher: createLocalHasher(),
            signal: root.signal,
            progressIntervalMs: progressInterval(io, env),
            // Test hosts run on the runner itself; this lets tests take the path other hosts take.
            followOnThisMachine: env.SFD_FOLLOW_ON_THIS_MACHINE === 'true',
            reporter: {
                progress: (running) => io.progress(running),
                hostDone: (result, log) => {
                    const title = `${result.host}: ${result.status} (${result.uploaded} uploaded, ${result.skipped} unchanged, ${formatDuration(result.durationMs)})`;
                    io.group(title, log.map((line) => line.level === 'debug'
                        ? { text: line.text, debug: true }
                        : { text: line.level === 'warning' ? `warning: ${line.text}` : line.text }));
                    io.hostDone?.(result);
                }
            }
        };
        const runToken = newRunToken();
        rollout = await rollOut(settings.rollout, hosts.map((host) => host.label), plan.files.length, (indexes) => fanOutBatch(indexes, fanOutOptions, options, thread, runToken), root.signal, (line) => io.info(line), (result) => fanOutOptions.reporter.hostDone(result, []));
        results = rollout.results.map((result, index) => withJump(result, hosts[index]));
    }
    finally {
        root.dispose();
    }
    writeOutputs(io, results, plan.files.length, settings);
    await io.writeSummary(summaryMarkdown(results, {
        targets: new Map(settings.hosts.map((host) => [host.label, host.target])),
        deleting: settings.delete,
        files: plan.files.length,
        totalBytes: plan.totalBytes,
        verify: settings.verify,
        batches: rollout.batches,
        ...(rollout.stopped === undefined ? {} : { stopped: rollout.stopped })
    }));
    const failed = results.filter((result) => result.status === 'failed');
    const skipped = results.filter((result) => result.status === 'skipped');
    const held = results.filter((result) => result.status === 'held');
    // Within max-failures a failed host is a warning, and the step succeeds.
    const tolerated = rollout.stopped === undefined && failed.length + held.length <= rollout.tolerated;
    for (const result of failed)
        if (tolerated)
            io.warning(`${oneLine(result.error ?? 'failed')} (within max-failures: ${rollout.tolerated})`, `Deploy to ${result.host} failed`);
        else
            io.error(oneLine(result.error ?? 'failed'), `Deploy to ${result.host} failed`);
    const succeeded = results.length - failed.length - skipped.length - held.length;
    io.info(`${succeeded} of ${results.length} host(s) ${settings.dryRun ? 'planned (dry run: nothing was written)' : settings.releases?.rollback === true ? 'rolled back' : settings.releases === undefined ? 'deployed' : 'switched'}, ${failed.length} failed,${held.length > 0 ? ` ${held.length} held (not switched),` : ''} ${skipped.length} not attempted${rollout.stopped === undefined ? '' : `; the rollout stopped ${rollout.stopped}`}`);
    const failing = failed.length > 0 || held.length > 0;
    if (skipped.length === 0 && (!failing || tolerated))
        return 'succeeded';
    io.markFailed();
    return 'failed';
}
async function planFiles(io, settings) {
    await checkWorkingDirectory(settings);
    const planning = Date.now();
    const plan = await buildPlan({
        patterns: settings.patterns,
        workingDirectory: settings.workingDirectory,
        stripComponents: settings.stripComponents,
        followSymbolicLinks: settings.followSymbolicLinks
    });
    io.info(`found ${plan.files.length} file(s) in ${formatDuration(Date.now() - planning)}`);
    return plan;
}
/**
 * The whole run, from inputs to outputs. Its outcome is also the step's result: the io has
 * been told of a failure.
 */
async function run(options = {}) {
    const io = options.io ?? createActionIO();
    const env = options.env ?? process.env;
    try {
        // Secrets are masked before anything else can print them.
        for (const name of SECRET_INPUTS)
            io.setSecret(io.getInput(name));
        const values = Object.fromEntries(INPUT_NAMES.map((name) => [name, io.getInput(name)]));
        const environment = {
            workspace: env.GITHUB_WORKSPACE ?? process.cwd(),
            variables: env,
            ...(options.agent === undefined ? {} : { agent: options.agent }),
            ...(options.keyFiles === undefined ? {} : { keyFiles: options.keyFiles })
        };
        const settings = parseInputs((name) => values[name], {
            ...environment,
            readFile: (path) => readFileSync(path, 'utf8')
        });
        for (const secret of settings.derivedSecrets)
            io.setSecret(secret);
        for (const warning of settings.warnings)
            io.warning(warning);
        for (const notice of settings.notices)
            io.notice(notice);
        const rollback = settings.releases?.rollback === true;
        const plan = rollback ? { files: [], totalBytes: 0 } : await planFiles(io, settings);
        if (plan.files.length === 0 && !rollback) {
            noFiles(io, settings);
            return 'succeeded';
        }
        if (settings.hosts.length === 0) {
            writeOutputs(io, [], plan.files.length);
            return 'succeeded';
        }
        // Every thread names the release as this one did (a name from the time would differ).
        const release = settings.releases?.name;
        const thread = {
            values: release === undefined ? values : { ...values, 'release-name': release },
            environment
        };
        return await deploy(io, settings, plan, options, thread);
    }
    catch (error) {
        io.setFailed(error instanceof DeployError ? error.message : `unexpected error: ${errorMessage(error)}`);
        return error instanceof InputError ? 'invalid' : 'failed';
    }
}

export { INPUT_NAMES as I, maskedParts as m, run as r };
