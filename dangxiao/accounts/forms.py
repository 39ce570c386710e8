"""Account forms. Validation of the values themselves lives in services/validation."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired("请填写用户名。"), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired("请填写密码。"), Length(max=128)])
    remember = BooleanField("两周内自动登录")


class PasswordForm(FlaskForm):
    current_password = PasswordField("当前密码", validators=[DataRequired("请填写当前密码。")])
    new_password = PasswordField("新密码", validators=[DataRequired("请填写新密码。")])
    confirm = PasswordField("确认新密码", validators=[DataRequired("请再次填写新密码。")])


class ProfileForm(FlaskForm):
    display_name = StringField("姓名", validators=[DataRequired("请填写姓名。")])
    phone = StringField("手机号码", validators=[Optional()])


class RegisterForm(FlaskForm):
    username = StringField("用户名")
    display_name = StringField("姓名")
    password = PasswordField("密码")
    confirm = PasswordField("确认密码")
    phone = StringField("手机号码")
    branch_id = SelectField("所在党支部", coerce=int, validate_choice=False)
    is_flowing = BooleanField("我是流动党员")
    flowing_region = StringField("现居住地（流入地）")


class ApprovalForm(FlaskForm):
    """Empty form: carries the CSRF token for approve/reject buttons."""
