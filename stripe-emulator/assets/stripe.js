/*
 * Stripe.js stand-in, served by the Stripe emulator at /v3/.
 *
 * Implements the part of Stripe.js that a deferred-intent ("finalize payments on the
 * server") checkout uses, with the same names, options, events and result shapes as
 * @stripe/stripe-js 10 (Stripe.js endive, of API version 2026-10-28.endive):
 * Stripe(pk), stripe.elements(options), elements.create('payment' | 'address'),
 * element.mount/unmount/destroy/on/off/update, elements.update/submit,
 * stripe.createConfirmationToken, stripe.handleNextAction, stripe.createPaymentMethod
 * and stripe.retrievePaymentIntent / retrieveSetupIntent.
 *
 * Card details live only in an iframe served by the emulator (payment-frame.html); the
 * host page talks to it with postMessage and never sees a card number.
 */
(function () {
  'use strict';

  var script = document.currentScript;
  var BASE = script && script.src ? new URL(script.src).origin : window.location.origin;
  var FRAME_URL = BASE + '/v3/payment-frame.html';
  var frameCounter = 0;

  function apiError(type, message, extra) {
    var error = { type: type, message: message };
    if (extra) for (var key in extra) error[key] = extra[key];
    return error;
  }

  function formEncode(value, prefix, out) {
    out = out || [];
    if (value === undefined || value === null) return out;
    if (typeof value === 'object' && !Array.isArray(value)) {
      Object.keys(value).forEach(function (key) {
        formEncode(value[key], prefix ? prefix + '[' + key + ']' : key, out);
      });
    } else if (Array.isArray(value)) {
      value.forEach(function (item, index) { formEncode(item, prefix + '[' + index + ']', out); });
    } else {
      out.push(encodeURIComponent(prefix) + '=' + encodeURIComponent(String(value)));
    }
    return out;
  }

  function request(key, method, path, params) {
    var body = params ? formEncode(params).join('&') : '';
    var url = BASE + path + (method === 'GET' && body ? '?' + body : '');
    return fetch(url, {
      method: method,
      headers: { Authorization: 'Bearer ' + key, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: method === 'GET' ? undefined : body,
    }).then(
      function (response) {
        return response.json().then(function (json) {
          return response.ok ? { ok: json } : { error: json.error || apiError('api_error', 'Unexpected reply') };
        });
      },
      function () {
        return { error: apiError('api_connection_error', 'Could not reach Stripe. Check your connection and try again.') };
      },
    );
  }

  /** One iframe-backed element (payment or address). */
  function Element(elements, kind, options) {
    this._elements = elements;
    this._kind = kind;
    this._options = options || {};
    this._handlers = {};
    this._frame = null;
    this._id = '__stripe_emulator_' + kind + '_' + ++frameCounter;
    this._pending = {};
    this._sequence = 0;
    this._destroyed = false;
    this._listener = this._onMessage.bind(this);
  }

  Element.prototype.mount = function (target) {
    if (this._destroyed) throw new Error('This Element has been destroyed and cannot be mounted again.');
    var container = typeof target === 'string' ? document.querySelector(target) : target;
    if (!container) throw new Error('The selector you specified (' + target + ') applies to no DOM elements that are currently on the page.');
    if (this._frame) this.unmount();
    var frame = document.createElement('iframe');
    frame.name = this._id;
    frame.title = this._kind === 'payment' ? 'Secure payment input frame' : 'Secure address input frame';
    frame.setAttribute('allow', 'payment *');
    frame.style.cssText = 'border:0;width:100%;min-height:80px;display:block;overflow:hidden;color-scheme:normal';
    var config = {
      id: this._id,
      kind: this._kind,
      pk: this._elements._stripe._key,
      origin: window.location.origin,
      locale: this._elements._options.locale || this._elements._stripe._options.locale || 'auto',
      elements: this._elements._options,
      options: this._options,
    };
    frame.src = FRAME_URL + '#' + encodeURIComponent(JSON.stringify(config));
    var self = this;
    frame.addEventListener('error', function () {
      self._emit('loaderror', { elementType: self._kind, error: apiError('api_connection_error', 'The element could not be loaded.') });
    });
    window.addEventListener('message', this._listener);
    container.appendChild(frame);
    this._frame = frame;
    this._container = container;
  };

  Element.prototype.unmount = function () {
    window.removeEventListener('message', this._listener);
    if (this._frame && this._frame.parentNode) this._frame.parentNode.removeChild(this._frame);
    this._frame = null;
    this._ready = false;
  };

  Element.prototype.destroy = function () {
    this.unmount();
    this._destroyed = true;
    delete this._elements._created[this._kind];
  };

  Element.prototype.on = function (event, handler) {
    (this._handlers[event] = this._handlers[event] || []).push(handler);
    return this;
  };

  Element.prototype.off = function (event, handler) {
    if (!handler) delete this._handlers[event];
    else this._handlers[event] = (this._handlers[event] || []).filter(function (h) { return h !== handler; });
    return this;
  };

  Element.prototype.update = function (options) {
    for (var key in options) this._options[key] = options[key];
    this._post({ type: 'options', options: this._options });
  };

  Element.prototype.focus = function () { this._post({ type: 'focus' }); };
  Element.prototype.blur = function () { this._post({ type: 'blur' }); };
  Element.prototype.clear = function () { this._post({ type: 'clear' }); };
  Element.prototype.collapse = function () {};

  /** Address Element: the current value. */
  Element.prototype.getValue = function () {
    return this._call({ type: 'getValue' });
  };

  Element.prototype._emit = function (event, payload) {
    (this._handlers[event] || []).slice().forEach(function (handler) {
      try { handler(payload); } catch (error) { setTimeout(function () { throw error; }); }
    });
  };

  Element.prototype._post = function (message) {
    if (!this._frame || !this._frame.contentWindow) return;
    message.source = 'stripe-emulator-host';
    message.id = this._id;
    this._frame.contentWindow.postMessage(message, BASE);
  };

  /** Sends a request to the frame and resolves with its answer. */
  Element.prototype._call = function (message) {
    var self = this;
    if (!this._frame) return Promise.resolve({ error: apiError('invalid_request_error', 'The ' + this._kind + ' Element is not mounted.') });
    var ready = this._ready ? Promise.resolve() : new Promise(function (resolve) { self._whenReady = resolve; });
    return ready.then(function () {
      return new Promise(function (resolve) {
        var sequence = ++self._sequence;
        self._pending[sequence] = resolve;
        message.sequence = sequence;
        self._post(message);
      });
    });
  };

  Element.prototype._onMessage = function (event) {
    if (event.origin !== BASE || !this._frame || event.source !== this._frame.contentWindow) return;
    var data = event.data || {};
    if (data.source !== 'stripe-emulator-frame' || data.id !== this._id) return;
    switch (data.type) {
      case 'ready':
        this._ready = true;
        if (this._whenReady) { this._whenReady(); this._whenReady = null; }
        this._emit('ready', { elementType: this._kind });
        break;
      case 'resize':
        this._frame.style.height = data.height + 'px';
        break;
      case 'change':
        this._elements._submitted = false;
        this._emit('change', Object.assign({ elementType: this._kind }, data.event));
        break;
      case 'focus':
      case 'blur':
        this._emit(data.type, { elementType: this._kind });
        break;
      case 'loaderror':
        this._emit('loaderror', { elementType: this._kind, error: data.error });
        break;
      case 'answer':
        var resolve = this._pending[data.sequence];
        delete this._pending[data.sequence];
        if (resolve) resolve(data.result);
        break;
    }
  };

  /**
   * The parameters of elements() in Stripe.js endive (@stripe/stripe-js 10's
   * StripeElementsOptions). Stripe.js warns of any other and ignores it; endive has no
   * paymentMethodTypes (allowedPaymentMethodTypes instead).
   */
  var ELEMENTS_PARAMETERS = [
    'adaptivePricing', 'allowedPaymentMethodTypes', 'amount', 'appearance', 'captureMethod', 'capture_method', 'clientSecret',
    'currency', 'customPaymentMethods', 'customerOptions', 'customerSessionClientSecret', 'excludedPaymentMethodTypes',
    'externalPaymentMethodTypes', 'fonts', 'loader', 'locale', 'mode', 'onBehalfOf', 'on_behalf_of', 'paymentMethodConfiguration',
    'paymentMethodCreation', 'paymentMethodOptions', 'payment_method_configuration', 'payment_method_options', 'setupFutureUsage',
    'setup_future_usage', 'syncAddressCheckbox',
  ];

  /** stripe.elements(options) */
  function Elements(stripe, options) {
    this._stripe = stripe;
    this._options = {};
    Object.keys(options || {}).forEach(function (key) {
      if (ELEMENTS_PARAMETERS.indexOf(key) >= 0) this._options[key] = options[key];
      else console.warn('Unrecognized elements() parameter: ' + key + ' is not a recognized parameter. This may cause issues with your integration in the future.');
    }, this);
    this._created = {};
    this._submitted = false;
    var mode = this._options.mode;
    if (mode && ['payment', 'setup', 'subscription'].indexOf(mode) < 0) {
      throw new Error('Invalid value for elements(): mode should be one of payment, setup, subscription. You specified: ' + mode + '.');
    }
    if ((mode === 'payment' || mode === 'subscription') && (typeof this._options.amount !== 'number' || !this._options.currency)) {
      throw new Error('In ' + mode + ' mode, elements() needs an integer amount and a currency.');
    }
  }

  Elements.prototype.create = function (type, options) {
    if (type !== 'payment' && type !== 'address') {
      throw new Error('The Stripe emulator supports the payment and address Elements, not ' + type + '.');
    }
    if (this._created[type]) throw new Error('Can only create one Element of type ' + type + '.');
    var element = new Element(this, type, options);
    this._created[type] = element;
    return element;
  };

  Elements.prototype.getElement = function (type) {
    return this._created[type] || null;
  };

  Elements.prototype.update = function (options) {
    for (var key in options) this._options[key] = options[key];
    var all = this._created;
    Object.keys(all).forEach(function (type) { all[type]._post({ type: 'elements', elements: this._options }); }, this);
  };

  Elements.prototype.fetchUpdates = function () {
    return Promise.resolve({});
  };

  /** Validates every Element; must be called before creating a token. */
  Elements.prototype.submit = function () {
    var self = this;
    var kinds = Object.keys(this._created);
    if (!this._created.payment) {
      return Promise.resolve({ error: apiError('invalid_request_error', 'elements.submit() needs a mounted Payment Element.') });
    }
    return Promise.all(kinds.map(function (kind) { return self._created[kind]._call({ type: 'validate' }); })).then(function (results) {
      var failed = results.filter(function (result) { return result && result.error; })[0];
      if (failed) return { error: failed.error };
      self._submitted = true;
      var payment = results[kinds.indexOf('payment')] || {};
      return { selectedPaymentMethod: payment.selectedPaymentMethod };
    });
  };

  function StripeInstance(key, options) {
    if (typeof key !== 'string' || key.indexOf('pk_') !== 0) {
      throw new Error('Invalid value for Stripe(): apiKey should be a publishable key (pk_test_…). You specified: ' + key + '.');
    }
    this._key = key;
    this._options = options || {};
  }

  StripeInstance.prototype.elements = function (options) {
    return new Elements(this, options);
  };

  function tokenRequest(stripe, elements, params, kind) {
    if (!elements || !(elements instanceof Elements)) {
      return Promise.resolve({ error: apiError('invalid_request_error', 'Pass the `elements` instance you created the Payment Element with.') });
    }
    if (!elements._submitted) {
      return Promise.resolve({
        error: apiError('invalid_request_error', 'elements.submit() must be called before stripe.' + (kind === 'token' ? 'createConfirmationToken' : 'createPaymentMethod') + '(). Call elements.submit() as soon as the customer submits the form, before any other await.'),
      });
    }
    var payment = elements._created.payment;
    var address = elements._created.address;
    var shipping = params && params.shipping;
    var gotAddress = address && !shipping && address._options.mode === 'shipping'
      ? address.getValue().then(function (value) {
          if (value && value.complete) shipping = { name: value.value.name, address: value.value.address, phone: value.value.phone || undefined };
        })
      : Promise.resolve();
    return gotAddress.then(function () {
      var request = Object.assign({}, params || {});
      if (shipping) request.shipping = shipping;
      return payment._call({ type: kind === 'token' ? 'createConfirmationToken' : 'createPaymentMethod', params: request });
    });
  }

  /** stripe.createConfirmationToken({elements, params}) → {confirmationToken} | {error} */
  StripeInstance.prototype.createConfirmationToken = function (options) {
    options = options || {};
    return tokenRequest(this, options.elements, options.params, 'token');
  };

  /** stripe.createPaymentMethod({elements, params}) → {paymentMethod} | {error} (legacy flow) */
  StripeInstance.prototype.createPaymentMethod = function (options) {
    options = options || {};
    if (!options.elements) {
      return Promise.resolve({ error: apiError('invalid_request_error', 'The Stripe emulator supports createPaymentMethod({elements}) only.') });
    }
    if (options.elements._options && options.elements._options.paymentMethodCreation !== 'manual') {
      return Promise.reject(new Error("IntegrationError: stripe.createPaymentMethod({elements}) needs elements created with paymentMethodCreation: 'manual'."));
    }
    return tokenRequest(this, options.elements, options.params, 'paymentMethod');
  };

  function intentFromSecret(clientSecret) {
    var match = /^((pi|seti)_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+$/.exec(clientSecret || '');
    if (!match) return null;
    return { id: match[1], kind: match[2] === 'pi' ? 'payment_intent' : 'setup_intent' };
  }

  function retrieve(stripe, clientSecret) {
    var intent = intentFromSecret(clientSecret);
    if (!intent) return Promise.resolve({ error: apiError('invalid_request_error', 'Invalid value for clientSecret: ' + clientSecret + '.') });
    var path = intent.kind === 'payment_intent' ? '/v1/payment_intents/' : '/v1/setup_intents/';
    return request(stripe._key, 'GET', path + intent.id, { client_secret: clientSecret }).then(function (result) {
      if (result.error) return { error: result.error };
      var out = {};
      out[intent.kind === 'payment_intent' ? 'paymentIntent' : 'setupIntent'] = result.ok;
      return out;
    });
  }

  StripeInstance.prototype.retrievePaymentIntent = function (clientSecret) { return retrieve(this, clientSecret); };
  StripeInstance.prototype.retrieveSetupIntent = function (clientSecret) { return retrieve(this, clientSecret); };

  /** The answer Stripe.js gives once an intent has left requires_action. */
  function outcome(intent) {
    var key = intent.object === 'setup_intent' ? 'setupIntent' : 'paymentIntent';
    var failure = intent.last_payment_error || intent.last_setup_error;
    if (intent.status === 'requires_payment_method' && failure) {
      var error = Object.assign({}, failure);
      error[intent.object] = intent;
      return { error: error };
    }
    var out = {};
    out[key] = intent;
    return out;
  }

  /** The 3-D Secure challenge: a modal dialog with Complete and Fail. */
  function challenge(intent) {
    return new Promise(function (resolve) {
      var overlay = document.createElement('div');
      overlay.setAttribute('data-stripe-emulator', '3ds');
      overlay.style.cssText = 'position:fixed;inset:0;background:rgba(0,0,0,.55);display:flex;align-items:center;justify-content:center;z-index:2147483647;font-family:system-ui,sans-serif';
      var dialog = document.createElement('div');
      dialog.setAttribute('role', 'dialog');
      dialog.setAttribute('aria-modal', 'true');
      dialog.setAttribute('aria-labelledby', '__stripe_emulator_3ds_title');
      dialog.style.cssText = 'background:#fff;color:#1a1a1a;border-radius:10px;padding:24px;max-width:360px;width:90%;box-shadow:0 10px 40px rgba(0,0,0,.3)';
      var amount = intent.amount ? (intent.amount / 100).toFixed(2) + ' ' + String(intent.currency).toUpperCase() : '';
      dialog.innerHTML =
        '<h2 id="__stripe_emulator_3ds_title" style="margin:0 0 8px;font-size:18px">3D Secure test payment page</h2>' +
        '<p style="margin:0 0 16px;font-size:14px;line-height:1.4">This stands in for your bank\u2019s authentication page. ' +
        (amount ? 'Amount: <strong></strong>. ' : '') + 'Complete or fail the authentication.</p>' +
        '<div style="display:flex;gap:8px"><button type="button" id="test-source-authorize-3ds" style="flex:1;padding:10px;border:0;border-radius:6px;background:#1a7f37;color:#fff;font:inherit;cursor:pointer">Complete</button>' +
        '<button type="button" id="test-source-fail-3ds" style="flex:1;padding:10px;border:1px solid #b42318;border-radius:6px;background:#fff;color:#b42318;font:inherit;cursor:pointer">Fail</button></div>';
      if (amount) dialog.querySelector('strong').textContent = amount;
      overlay.appendChild(dialog);
      document.body.appendChild(overlay);
      var complete = dialog.querySelector('#test-source-authorize-3ds');
      var fail = dialog.querySelector('#test-source-fail-3ds');
      complete.focus();
      function decide(result) {
        complete.disabled = true;
        fail.disabled = true;
        fetch(BASE + '/_emulator/3ds/' + intent.id, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ client_secret: intent.client_secret, result: result }),
        })
          .then(function (response) { return response.json(); })
          .then(
            function (json) {
              overlay.parentNode && overlay.parentNode.removeChild(overlay);
              resolve(json.error ? { error: json.error } : outcome(json));
            },
            function () {
              overlay.parentNode && overlay.parentNode.removeChild(overlay);
              resolve({ error: apiError('api_connection_error', 'Could not reach Stripe during authentication.') });
            },
          );
      }
      complete.addEventListener('click', function () { decide('complete'); });
      fail.addEventListener('click', function () { decide('fail'); });
    });
  }

  /** stripe.handleNextAction({clientSecret}) → {paymentIntent} | {setupIntent} | {error} */
  StripeInstance.prototype.handleNextAction = function (options) {
    var clientSecret = options && options.clientSecret;
    return retrieve(this, clientSecret).then(function (result) {
      if (result.error) return result;
      var intent = result.paymentIntent || result.setupIntent;
      if (intent.status !== 'requires_action' || !intent.next_action) return outcome(intent);
      if (intent.next_action.type === 'redirect_to_url') {
        window.location.assign(intent.next_action.redirect_to_url.url);
        return new Promise(function () {});
      }
      if (intent.next_action.type === 'use_stripe_sdk') return challenge(intent);
      return { error: apiError('invalid_request_error', 'Unsupported next action: ' + intent.next_action.type) };
    });
  };

  window.Stripe = function (key, options) {
    return new StripeInstance(key, options);
  };
  window.Stripe.version = 3;
  window.Stripe.emulator = true;
})();
